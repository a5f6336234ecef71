/**
 * The composition root: a complete node in this process, with the built-in
 * connector and OS kinds and mappings, the sandboxed plugin host
 * (sys/plugins/…), peers, and the objects its creator asks for. The CLI's
 * `serve` and `--embedded`, and the library's `createNode()`, all start
 * here, so a node made by a program is the node the daemon runs.
 *
 *   createNode ─▶ MemweaveNode (kinds, mappings) ─▶ plugin host ─▶ peers ─▶ objects ─▶ tree
 */
import { pino } from 'pino'
import { MemweaveError, toMemweaveError } from '../errors/index.js'
import type { Logger } from 'pino'
import { LocalTreeClient } from '../net/index.js'
import type { TreeClient } from '../net/index.js'
import { pluginHostFor } from '../plugins/index.js'
import type { PluginHost } from '../plugins/index.js'
import type { Tree } from '../tree/index.js'
import { BUILTIN_CONNECTOR_KINDS, BUILTIN_MAPPINGS, BUILTIN_OS_KINDS } from './builtins.js'
import { MemweaveNode } from './memweave-node.js'
import type { NodeLimits } from './node-limits.js'
import { PeerManager } from './peers/peer-manager.js'
import { parseConnectOption } from './peers/peer-spec.js'

/** A connector or OS to create at start, as a `connector/new` or `os/new` line. */
export interface StartObject {
  readonly what: 'connector' | 'os'
  /** The line's text: `NAME [-c ON] KIND[:ARGS]`. */
  readonly line: string
  /** Where it was asked for (a config file line, `--with '…'`), to prefix a failure. */
  readonly source: string
}

export interface CreateNodeOptions {
  /** Writes to memory (off unless asked). */
  readonly allowWrite?: boolean
  /** Default: silent. */
  readonly log?: Logger
  /** Peers to mount, in the form of serve --connect: NAME=URL[,token-file=F][,fingerprint=SHA256][,ca=F]. */
  readonly connect?: readonly string[]
  /** Wait for each peer's first connection (default true); false connects in the background, retrying. */
  readonly waitForPeers?: boolean
  /** Caps on objects, peers and plugins (node-limits.ts). */
  readonly limits?: Partial<NodeLimits>
  /**
   * Folders that file paths written by clients (connector/new file:, peer token-file and ca) must lie in;
   * a daemon sets them (docs/access.md). Default: any path (this process's own caller).
   */
  readonly fileRoots?: readonly string[]
  /** Folders plugin files loaded by clients (sys/plugins/load) must lie in; a daemon sets them. Default: any path. */
  readonly pluginRoots?: readonly string[]
  /**
   * Connectors and OSs to create after the peers, in this order (each after what it is created on).
   * They come from the node's creator (the daemon's own command line or config), so their file paths
   * are trusted like the creator's own (still regular files only).
   */
  readonly objects?: readonly StartObject[]
}

export class LocalNode {
  private closing: Promise<void> | undefined

  constructor(readonly node: MemweaveNode, readonly plugins: PluginHost, readonly peers: PeerManager) {}

  get tree(): Tree {
    return this.node.tree
  }

  /** Facts for sys/info and the protocol handshake (with the node id peers use against loops). */
  sysInfo(): Record<string, unknown> {
    return { ...this.node.sysInfo(), nodeId: this.peers.nodeId }
  }

  /** A TreeClient on this node; its handles are counted under its own owner and dropped when it disconnects. */
  client(owner?: string): TreeClient {
    return new LocalTreeClient(this.node.tree, owner)
  }

  /** Creates a connector, as a `connector/new` line would: `openConnector('dump', 'file:/data/vm.elf')`. */
  async openConnector(name: string, kindArgs: string): Promise<string> {
    return this.node.newConnector(`${name} ${kindArgs}`)
  }

  /** Creates an OS on a connector, as an `os/new` line would: `openOs('g', 'linux', { connector: 'dump' })`. */
  async openOs(name: string, kindArgs: string, options: { readonly connector?: string } = {}): Promise<string> {
    return this.node.newOs(options.connector === undefined ? `${name} ${kindArgs}` : `${name} -c ${options.connector} ${kindArgs}`)
  }

  /** Stops peers and plugins, then the node (handles go stale); idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => { await this.peers.close(); await this.plugins.close(); await this.node.close() })()
    return this.closing
  }
}

export async function createNode(options: CreateNodeOptions = {}): Promise<LocalNode> {
  const log = options.log ?? pino({ level: 'silent' })
  const node = new MemweaveNode({
    allowWrite: options.allowWrite === true,
    fileRoots: options.fileRoots,
    log,
    connectorKinds: BUILTIN_CONNECTOR_KINDS,
    osKinds: BUILTIN_OS_KINDS,
    mappings: BUILTIN_MAPPINGS,
    limits: options.limits,
  })
  // Installs sys/plugins/{load,rm,list}; user plugins run sandboxed in child processes.
  const plugins = pluginHostFor(node, { maxPlugins: node.limits.maxPlugins, ...(options.pluginRoots === undefined ? {} : { roots: options.pluginRoots }) })
  const peers = new PeerManager({ node, log })
  const local = new LocalNode(node, plugins, peers)
  try {
    // Peers first: an object may be created on a peer's connector ('-c b.dump').
    for (const text of options.connect ?? []) await peers.add(parseConnectOption(text), options.waitForPeers !== false)
    for (const object of options.objects ?? []) await createObject(node, object)
  } catch (err) {
    await local.close().catch((closeErr: unknown) => { log.warn({ err: closeErr }, 'closing the node after a failed start failed') })
    throw err
  }
  return local
}

async function createObject(node: MemweaveNode, object: StartObject): Promise<void> {
  try {
    if (object.what === 'connector') await node.newConnector(object.line, true)
    else await node.newOs(object.line, true)
  } catch (err) {
    const error = toMemweaveError(err, 'node', object.source)
    throw new MemweaveError(error.origin, error.kind, `${object.source}: ${error.message}`, { cause: error })
  }
}
