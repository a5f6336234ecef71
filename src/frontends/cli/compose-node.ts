/**
 * The one place the CLI touches the node layer: `serve` and `--embedded`
 * build a MemweaveNode with the built-in kinds here, create the objects a
 * config or --with asks for, and from then on use only its tree (served) or
 * a TreeClient on it (embedded).
 */
import type { Logger } from 'pino'
import { MemweaveError, quote, toMemweaveError } from '../../errors/index.js'
import { DEFAULT_SERVER_LIMITS } from '../../net/index.js'
import type { ServerLimits, TreeClient } from '../../net/index.js'
import { BUILTIN_CONNECTOR_KINDS, BUILTIN_OS_KINDS, DEFAULT_NODE_LIMITS, MEMWEAVE_VERSION, createLocalNode } from '../../node/index.js'
import type { MemweaveNode, NodeLimits } from '../../node/index.js'
import { usageError } from './cli-errors.js'
import { parseBigNumber } from './numbers.js'
import { creationOrder, specLine } from './control-lines.js'
import type { ObjectSpec } from './control-lines.js'

export interface ComposedNode {
  /** The tree to serve. */
  readonly tree: MemweaveNode['tree']
  /** Facts for sys/info and the protocol handshake. */
  sysInfo(): Record<string, unknown>
  /** An in-process client (for --embedded). */
  client(): TreeClient
  close(): Promise<void>
}

export interface ComposeOptions {
  readonly allowWrite: boolean
  /** Allowed roots for file: paths clients name (serve sets them); undefined: any. */
  readonly fileRoots?: readonly string[]
  /** Allowed roots for plugin files clients load (serve sets them); undefined: any. */
  readonly pluginRoots?: readonly string[]
  readonly log: Logger
  /** Connectors and OSs to create, in any order; each comes after what it is created on. */
  readonly objects: readonly ObjectSpec[]
  /** Peers to connect to (serve --connect NAME=URL[,…]); they connect in the background, retrying. */
  readonly connect?: readonly string[]
  /** Caps on objects, peers and plugins (serve --limit). */
  readonly limits?: Partial<NodeLimits>
}

export async function composeNode(options: ComposeOptions): Promise<ComposedNode> {
  // Peers first: an object may be created on a peer's connector ('-c b.dump'); then the first connections are waited for.
  const onPeers = options.objects.some((spec) => spec.on?.includes('.') === true)
  const local = await createLocalNode({ allowWrite: options.allowWrite, fileRoots: options.fileRoots, pluginRoots: options.pluginRoots, log: options.log, connect: options.connect ?? [], waitForPeers: onPeers, limits: options.limits })
  try {
    for (const spec of creationOrder(options.objects)) await createObject(local.node, spec)
  } catch (err) {
    await local.close().catch((closeErr: unknown) => { options.log.warn({ err: closeErr }, 'closing the node after a failed start failed') })
    throw err
  }
  return {
    tree: local.tree,
    // The server announces this node id; peers put it in the hop chains they forward.
    sysInfo: () => local.sysInfo(),
    client: () => local.client('cli'),
    close: () => local.close(),
  }
}

/** The kinds this build knows, for messages and for tests that need one. */
export function builtinKinds(): { connector: string[]; os: string[] } {
  return { connector: BUILTIN_CONNECTOR_KINDS.map((k) => k.kind), os: BUILTIN_OS_KINDS.map((k) => k.kind) }
}

async function createObject(node: MemweaveNode, spec: ObjectSpec): Promise<void> {
  const line = specLine(spec)
  try {
    // The daemon's own command line and config: trusted paths (still regular files only).
    if (spec.what === 'connector') await node.newConnector(line, true)
    else await node.newOs(line, true)
  } catch (err) {
    const error = toMemweaveError(err, 'node', spec.source)
    throw new MemweaveError(error.origin, error.kind, `${spec.source}: ${error.message}`, { cause: error })
  }
}

export function memweaveVersion(): string {
  return MEMWEAVE_VERSION
}

/** `--memory-budget SIZE` and `--limit NAME=VALUE`: each name is a server limit or a node limit. */
export function parseLimitOptions(memoryBudget: string | undefined, given: readonly string[]): { server: Partial<ServerLimits>; node: Partial<NodeLimits> } {
  const server: Partial<ServerLimits> = {}
  const node: Partial<NodeLimits> = {}
  if (memoryBudget !== undefined) server.budgetBytes = Number(parseBigNumber(memoryBudget, '--memory-budget'))
  for (const text of given) {
    const eq = text.indexOf('=')
    const name = text.slice(0, eq)
    if (eq <= 0) throw usageError(`--limit ${quote(text)}: expected NAME=VALUE`)
    const value = Number(parseBigNumber(text.slice(eq + 1), `--limit ${name}`))
    if (Object.hasOwn(DEFAULT_SERVER_LIMITS, name)) server[name as keyof ServerLimits] = value
    else if (Object.hasOwn(DEFAULT_NODE_LIMITS, name)) node[name as keyof NodeLimits] = value
    else throw usageError(`--limit: unknown limit ${quote(name)} (known: ${[...Object.keys(DEFAULT_SERVER_LIMITS), ...Object.keys(DEFAULT_NODE_LIMITS)].join(', ')})`)
  }
  return { server, node }
}
