/**
 * Leaf I/O for programs, on any TreeClient (a daemon's or an in-process
 * node's): the shared helpers of net/leaf-io.ts (open a leaf for one job,
 * read a whole small leaf, its text or JSON, write a control line, call an
 * RPC), and creating connectors and OSs by their control lines.
 */
import { writeLine } from '../net/index.js'
import type { TreeClient } from '../net/index.js'

export { DEFAULT_MAX_LEAF_BYTES, callRpc, pieceData, readJson, readLeaf, readText, withLeaf, writeLine } from '../net/index.js'

/** Creates a connector on whatever node the client reaches: `openConnector(client, 'dump', 'file:/data/vm.elf')`. */
export async function openConnector(client: TreeClient, name: string, kindArgs: string): Promise<void> {
  await writeLine(client, 'connector/new', `${name} ${kindArgs}`)
}

/** Creates an OS: `openOs(client, 'g', 'linux', { connector: 'dump' })`. */
export async function openOs(client: TreeClient, name: string, kindArgs: string, options: { readonly connector?: string } = {}): Promise<void> {
  await writeLine(client, 'os/new', options.connector === undefined ? `${name} ${kindArgs}` : `${name} -c ${options.connector} ${kindArgs}`)
}
