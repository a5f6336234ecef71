/**
 * `createNode()`: a memweave node inside this program, with every built-in
 * connector and OS kind, built-in plugins and the plugin sandbox: the same
 * node `memweave serve` runs, without a socket.
 *
 *   const node = await createNode()
 *   await node.openConnector('dump', 'file:/data/vm.elf')
 *   await node.openOs('g', 'linux', { connector: 'dump' })
 *   const client = node.client()          // a TreeClient, as connect() returns
 */
import { createLocalNode } from '../node/index.js'
import type { LocalNode, LocalNodeOptions } from '../node/index.js'

export type NodeOptions = LocalNodeOptions
export type { LocalNode }

export function createNode(options: NodeOptions = {}): Promise<LocalNode> {
  return createLocalNode(options)
}
