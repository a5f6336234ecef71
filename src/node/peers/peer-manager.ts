/**
 * The peers of one node: adds and removes them (serve --connect, sys/peers,
 * `memweave peer`), keeps each one connecting, and tells the node's wiring
 * (src/node/peers/peer-wiring.ts) when a peer comes up, drops, or reports a
 * change. It is the PeerDirectory the node's remote branches look peers up
 * in, and its node id is the one this node's server must announce.
 *
 *   A ──(hello chain [A], via [..., A])──▶ B ──▶ C        sys/peers/{add,rm,list,self}
 */
import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import { readCheckedFile } from '../../host/index.js'
import { MemweaveError } from '../../errors/index.js'
import { PeerWiring } from './peer-wiring.js'
import type { MemweaveNode } from '../memweave-node.js'
import type { PeerDirectory } from './peer-link.js'
import { Peer } from './peer-connection.js'
import type { PeerEvents, PeerStatus } from './peer-connection.js'
import { DEFAULT_PEER_TUNING } from './peer-spec.js'
import type { PeerSpec, PeerTuning } from './peer-spec.js'
import { peersSysBranch } from './peer-sys.js'
import { checkCap } from '../node-limits.js'

export interface PeerManagerOptions {
  readonly node: MemweaveNode
  readonly log: Logger
  /** This node's id (random when not given); give the same one to startServer through nodeInfo().nodeId. */
  readonly nodeId?: string
  /** Defaults for every peer (each peer's spec may override). */
  readonly tuning?: Partial<PeerTuning>
}

export class PeerManager implements PeerDirectory {
  readonly nodeId: string
  private readonly peers = new Map<string, Peer>()
  private readonly wiring: PeerWiring
  private readonly log: Logger
  private closed = false

  constructor(private readonly options: PeerManagerOptions) {
    this.nodeId = options.nodeId ?? randomUUID()
    this.log = options.log.child({ component: 'peers' })
    this.wiring = new PeerWiring(options.node, this, this.log)
    options.node.extraSys.set('peers', peersSysBranch(this, options.node.lifetime))
  }

  get(name: string): Peer | undefined {
    return this.peers.get(name)
  }

  all(): Peer[] {
    return [...this.peers.values()]
  }

  /**
   * Adds a peer and starts connecting. With `wait` (the default), returns
   * once the first attempt is over, saying whether it is up or why not; the
   * peer keeps retrying either way.
   */
  async add(given: PeerSpec, wait = true, fromClient = false): Promise<string> {
    if (this.closed) throw new MemweaveError('node', 'cancelled', 'the node is shutting down')
    this.wiring.checkName(given.name)
    if (this.peers.has(given.name)) throw new MemweaveError('node', 'already_exists', `a peer named '${given.name}' already exists`)
    checkCap(this.peers.size, this.options.node.limits.maxPeers, 'maxPeers', 'the daemon has the most peers it may')
    // Files a client names are read once, here, as checked files (allowed roots, regular, small); never again at reconnect.
    const roots = fromClient ? this.options.node.options.fileRoots : undefined
    const token = given.token ?? (given.tokenFile === undefined ? undefined : await readToken(given.tokenFile, roots))
    const spec = given.caFile === undefined ? given : { ...given, ca: await readCheckedFile(given.caFile, { origin: 'node', roots, what: 'peer ca', maxBytes: MAX_CA_BYTES, rootHint: ROOT_HINT }) }
    const tuning: PeerTuning = { ...DEFAULT_PEER_TUNING, ...this.options.tuning, ...spec.tuning }
    const peer = new Peer(spec, token, tuning, this.nodeId, this.log.child({ peer: spec.name }), this.events)
    this.peers.set(spec.name, peer)
    this.wiring.attach(peer)
    peer.start()
    if (!wait) return `peer '${spec.name}' added (${spec.url}); connecting`
    await peer.firstAttempt
    const status = peer.status()
    return status.state === 'up'
      ? `peer '${spec.name}' added and connected (${spec.url}, node ${status.remoteNodeId ?? '?'})`
      : `peer '${spec.name}' added but not connected yet: ${status.lastError ?? status.state} (retrying)`
  }

  async remove(name: string): Promise<string> {
    const peer = this.peers.get(name)
    if (peer === undefined) throw new MemweaveError('node', 'not_found', `no peer named '${name}' (see sys/peers/list)`)
    this.peers.delete(name)
    this.wiring.detach(name)
    await peer.stop()
    this.log.info({ peer: name }, 'peer removed')
    return `peer '${name}' removed`
  }

  list(): PeerStatus[] {
    return this.all().map((peer) => peer.status())
  }

  async close(): Promise<void> {
    this.closed = true
    await Promise.all(this.all().map((peer) => this.remove(peer.name).catch((err: unknown) => this.log.warn({ err, peer: peer.name }, 'closing a peer failed'))))
  }

  private readonly events: PeerEvents = {
    up: (peer) => this.wiring.sessionChanged(peer),
    down: (peer) => this.wiring.sessionChanged(peer),
    change: (peer, session, path, via) => this.wiring.remoteChanged(peer, session, path, via),
  }
}

const MAX_TOKEN_BYTES = 4096
const MAX_CA_BYTES = 256 * 1024
const ROOT_HINT = 'serve --file-root DIR'

async function readToken(file: string, roots: readonly string[] | undefined): Promise<string> {
  const token = (await readCheckedFile(file, { origin: 'node', roots, what: 'peer token-file', maxBytes: MAX_TOKEN_BYTES, rootHint: ROOT_HINT })).toString('utf8').trim()
  if (token === '') throw new MemweaveError('config', 'invalid_argument', `the peer token file ${file} is empty`)
  return token
}
