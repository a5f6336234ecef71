/**
 * `createNode()`: a memweave node inside this program, with every built-in
 * connector and OS kind, built-in plugins and the plugin sandbox: the same
 * node `memweave serve` runs, without a socket (both start at node/create-node.ts).
 *
 *   const node = await createNode()
 *   await node.openConnector('dump', 'file:/data/vm.elf')
 *   await node.openOs('g', 'linux', { connector: 'dump' })
 *   const client = node.client()          // a TreeClient, as connect() returns
 */
import { createNode as createNodeInProcess } from '../node/index.js'
import type { CreateNodeOptions, LocalNode } from '../node/index.js'

/** The library's options; objects to create at start are the daemon's (a program calls openConnector/openOs). */
export type NodeOptions = Omit<CreateNodeOptions, 'objects'>
export type { LocalNode }

export function createNode(options: NodeOptions = {}): Promise<LocalNode> {
  return createNodeInProcess(options)
}
