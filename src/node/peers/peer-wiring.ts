/**
 * Puts peers into a MemweaveNode's tree through its hooks: each peer's
 * whole tree as NAME/ (extraRoot), its connectors and OSs flattened into
 * connector/ and os/ (extra sources), the `remote` connector kind, the
 * `hints` leaf on every connector, and `os new g -c b.dump …` creating the
 * connector 'b.dump' here on demand. The peer manager (peer-manager.ts)
 * tells it when peers come, go, connect, drop, and report changes.
 */
import type { Logger } from 'pino'
import { CONNECTOR_OBJECT, connectorHintsLeaf, remoteConnectorKind } from '../../connectors/index.js'
import { MemweaveError } from '../../errors/index.js'
import { parseKindArgs, validateName } from '../../tree/index.js'
import type { MemweaveNode } from '../memweave-node.js'
import { remoteBranch } from './peer-branches.js'
import type { RemoteTreeContext } from './peer-branches.js'
import { notifyFromPeer } from './hop-rules.js'
import { flattenedBranch } from './peer-flatten.js'
import type { PeerDirectory, PeerLink, PeerSession } from './peer-link.js'
import { StatCache } from './peer-stat-cache.js'

const RESERVED_ROOT_NAMES = new Set(['connector', 'os', 'sys'])

export class PeerWiring {
  private readonly caches = new WeakMap<PeerSession, StatCache>()
  private readonly context: RemoteTreeContext
  /** Connectors made on demand for `-c b.dump`, and whether an OS has used them yet. */
  private readonly onDemand = new Map<string, { used: boolean }>()

  constructor(private readonly node: MemweaveNode, private readonly directory: PeerDirectory, private readonly log: Logger) {
    this.context = { selfId: directory.nodeId, log, cacheOf: (session) => this.cacheOf(session) }
    node.extraConnectorSources.push(flattenedBranch(this.context, directory, 'connector'))
    node.extraOsSources.push(flattenedBranch(this.context, directory, 'os'))
    // Either may already be there (registered by the composition root); a node has one of each.
    if (!node.connectorKinds.names().includes('remote')) node.connectorKinds.add(remoteConnectorKind(node.tree))
    if (!node.tree.registry.all().some((m) => m.kind === CONNECTOR_OBJECT.name && m.name === connectorHintsLeaf.name)) {
      node.tree.registry.add(connectorHintsLeaf)
    }
    node.remoteConnectors = (name) => this.remoteConnector(name)
    node.tree.events.subscribe('os', () => this.releaseUnused())
  }

  /** Refuses peer names that cannot be a root entry (reserved, taken, or not a plain name). */
  checkName(name: string): void {
    validateName(name, 'peer name')
    if (RESERVED_ROOT_NAMES.has(name)) throw new MemweaveError('node', 'invalid_argument', `peer name '${name}' is reserved (the root already has ${name}/)`)
    if (this.node.extraRoot.has(name)) throw new MemweaveError('node', 'already_exists', `the root already has an entry named '${name}'`)
  }

  attach(link: PeerLink): void {
    this.checkName(link.name)
    this.node.extraRoot.set(link.name, () => remoteBranch(this.context, link, '', link.name))
    this.node.tree.events.notify(link.name)
  }

  detach(name: string): void {
    this.node.extraRoot.delete(name)
    this.changedObjects(name)
  }

  /** A peer connected or dropped: its branch and the flattened listings show something else now. */
  sessionChanged(link: PeerLink): void {
    this.changedObjects(link.name)
  }

  /** A change the peer reported at `path` (its own path), with the nodes it came through. */
  remoteChanged(link: PeerLink, session: PeerSession, path: string, via: readonly string[]): void {
    if (via.includes(this.directory.nodeId)) return // went round a cycle back to us
    this.cacheOf(session).invalidate(path)
    const bus = this.node.tree.events
    notifyFromPeer(bus, path === '' ? link.name : `${link.name}/${path}`, via)
    const top = path.split('/')[0] ?? ''
    if (top === '' || top === 'connector') notifyFromPeer(bus, 'connector', via)
    if (top === '' || top === 'os') notifyFromPeer(bus, 'os', via)
  }

  private changedObjects(name: string): void {
    const bus = this.node.tree.events
    bus.notify(name)
    bus.notify('connector')
    bus.notify('os')
  }

  private cacheOf(session: PeerSession): StatCache {
    let cache = this.caches.get(session)
    if (cache === undefined) {
      cache = new StatCache()
      this.caches.set(session, cache)
    }
    return cache
  }

  /**
   * Creates the local connector 'b.dump' (kind remote) for an OS about to be
   * made on it; it is removed, with what was built on it, once its peer
   * handle goes stale, since nothing can read through it any more.
   */
  /** An OS came or went: a connector made on demand goes once the last OS on it is gone (users cannot name it in connector/rm). */
  private releaseUnused(): void {
    const store = this.node.store
    for (const [name, state] of this.onDemand) {
      const users = [...store.oses.values()].filter((os) => os.connectorName === name).length
      if (users > 0) { state.used = true; continue }
      if (!state.used) continue // still being opened on
      this.onDemand.delete(name)
      store.removeConnector(name, false).then(
        () => this.log.info({ connector: name }, 'removed a remote connector no OS uses any more'),
        (err: unknown) => this.log.debug({ err, connector: name }, 'kept a remote connector (still open?)'))
    }
  }

  private async remoteConnector(name: string): Promise<void> {
    const peer = name.slice(0, name.indexOf('.'))
    if (this.directory.get(peer) === undefined) return // not a peer: the store reports the unknown connector
    const store = this.node.store
    let record
    try {
      record = await store.createConnector({ name, on: undefined, kind: 'remote', args: parseKindArgs(name.replaceAll(',', '\\,')) })
    } catch (err) {
      if (err instanceof MemweaveError && err.kind === 'already_exists') return // made meanwhile by a concurrent create
      throw err
    }
    const connector = record.connector
    this.onDemand.set(name, { used: false })
    connector.lifetime.onEnd((reason) => {
      this.onDemand.delete(name)
      if (store.connectors.get(name)?.connector !== connector) return // already removed
      this.log.info({ connector: name, reason }, 'removing a remote connector whose peer handle went stale')
      store.removeConnector(name, true).catch((err: unknown) => this.log.warn({ err, connector: name }, 'removing a stale remote connector failed'))
    })
  }
}
