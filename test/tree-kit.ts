/**
 * A node in this process for tests and benches: every built-in kind and
 * mapping, one connector and one OS opened by their control lines (as
 * `connector/new` and `os/new` take them), and a LocalTreeClient on its
 * tree; plus reading a piece of a leaf at an address. Whole leaves, text
 * and JSON come from the library's own readLeaf/readText/readJson.
 */
import { pino } from 'pino'
import type { Logger } from 'pino'
import { LocalTreeClient, pieceData, withLeaf } from '../src/net/index.js'
import type { TreeClient } from '../src/net/index.js'
import { BUILTIN_CONNECTOR_KINDS, BUILTIN_MAPPINGS, BUILTIN_OS_KINDS, MemweaveNode } from '../src/node/index.js'
import type { OsInstance } from '../src/os/index.js'

export const silentLog = pino({ level: 'silent' })

export interface OsNode {
  readonly node: MemweaveNode
  readonly client: LocalTreeClient
  readonly os: OsInstance
  /** How long `os/new` took: the OS open. */
  readonly openMs: number
  close(): Promise<void>
}

export interface OsNodeOptions {
  /** A `connector/new` line, e.g. `dump file:/path/dump.elf`; none for an OS without one (native). */
  readonly connector?: string
  /** An `os/new` line, e.g. `guest -c dump linux`; its first word names the OS. */
  readonly os: string
  readonly allowWrite?: boolean
  readonly log?: Logger
}

export async function openOsNode(options: OsNodeOptions): Promise<OsNode> {
  const node = new MemweaveNode({
    allowWrite: options.allowWrite ?? false, log: options.log ?? silentLog,
    connectorKinds: BUILTIN_CONNECTOR_KINDS, osKinds: BUILTIN_OS_KINDS, mappings: BUILTIN_MAPPINGS,
  })
  try {
    if (options.connector !== undefined) await node.newConnector(options.connector)
    const started = performance.now()
    await node.newOs(options.os)
    const openMs = performance.now() - started
    const name = options.os.split(' ')[0] ?? ''
    const record = node.store.oses.get(name)
    if (record === undefined) throw new Error(`os '${name}' was not created by '${options.os}'`)
    const client = new LocalTreeClient(node.tree)
    return {
      node, client, os: record.os, openMs,
      close: async () => {
        await client.disconnect()
        await node.close()
      },
    }
  } catch (err) {
    await node.close()
    throw err
  }
}

/** `length` bytes at `addr` of the leaf at `path`; a failed read throws, naming the path and address. */
export async function readAt(client: TreeClient, path: string, addr: bigint, length: number): Promise<Buffer> {
  return withLeaf(client, path, async ({ handle }) => {
    const [result] = await client.read(handle, [{ addr, length }])
    return Buffer.from(pieceData(result, `'${path}'`, addr))
  })
}
