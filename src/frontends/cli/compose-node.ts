/**
 * The one place the CLI touches the node layer: `serve` and `--embedded`
 * build a MemweaveNode with the built-in kinds here, create the objects a
 * config or --with asks for, and from then on use only its tree (served) or
 * a TreeClient on it (embedded).
 */
import type { Logger } from 'pino'
import { MemweaveError, toMemweaveError } from '../../errors/index.js'
import type { TreeClient } from '../../net/index.js'
import { BUILTIN_CONNECTOR_KINDS, BUILTIN_OS_KINDS, MEMWEAVE_VERSION, createLocalNode } from '../../node/index.js'
import type { MemweaveNode } from '../../node/index.js'
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
  readonly log: Logger
  /** Connectors and OSs to create, in any order; each comes after what it is created on. */
  readonly objects: readonly ObjectSpec[]
  /** Peers to connect to (serve --connect NAME=URL[,…]); they connect in the background, retrying. */
  readonly connect?: readonly string[]
}

export async function composeNode(options: ComposeOptions): Promise<ComposedNode> {
  // Peers first: an object may be created on a peer's connector ('-c b.dump'); then the first connections are waited for.
  const onPeers = options.objects.some((spec) => spec.on?.includes('.') === true)
  const local = await createLocalNode({ allowWrite: options.allowWrite, log: options.log, connect: options.connect ?? [], waitForPeers: onPeers })
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
    if (spec.what === 'connector') await node.newConnector(line)
    else await node.newOs(line)
  } catch (err) {
    const error = toMemweaveError(err, 'node', spec.source)
    throw new MemweaveError(error.origin, error.kind, `${spec.source}: ${error.message}`, { cause: error })
  }
}

export function memweaveVersion(): string {
  return MEMWEAVE_VERSION
}
