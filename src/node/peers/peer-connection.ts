/**
 * One configured peer: connects (TLS pinning, token, hop chain in hello),
 * watches the peer's whole tree for changes, pings it for latency and
 * liveness, and reconnects with exponential backoff whenever the
 * connection is lost or refused. Its state (connecting/up/down, last error,
 * latency, traffic) is what sys/peers/list shows.
 */
import type { Logger } from 'pino'
import { MemweaveError, toMemweaveError } from '../../errors/index.js'
import { outsideRequests } from '../../tree/index.js'
import type { PeerLink } from './peer-link.js'
import { connectClient } from '../../net/index.js'
import type { ClientTraffic, ProtocolClient } from '../../net/index.js'
import { ProtocolPeerSession } from './peer-client-session.js'
import type { PeerSpec, PeerTuning } from './peer-spec.js'

export type PeerState = 'connecting' | 'up' | 'down' | 'removed'

export interface PeerEvents {
  up(peer: Peer, session: ProtocolPeerSession): void
  down(peer: Peer, session: ProtocolPeerSession): void
  change(peer: Peer, session: ProtocolPeerSession, path: string, via: readonly string[]): void
}

export interface PeerStatus {
  readonly name: string
  readonly url: string
  readonly state: PeerState
  /** When the state last changed. */
  readonly since: string
  readonly lastError: string | undefined
  readonly connectAttempts: number
  readonly remoteNodeId: string | undefined
  /** Round trip of the last ping, in milliseconds. */
  readonly latencyMs: number | undefined
  readonly traffic: ClientTraffic
  readonly outstanding: { readonly requests: number; readonly readBytes: number }
  readonly tls: string
  readonly token: boolean
  /** The TCP data channel big reads come back on (protocol 1.6), and what came through it. */
  readonly dataChannel: { readonly active: boolean; readonly frames: number; readonly bytes: number; readonly reads: number }
}

/** A ping unanswered for this long (or 3 ping intervals, if longer) cuts the connection. */
const MIN_PING_TIMEOUT_MS = 30_000

export class Peer implements PeerLink {
  readonly name: string
  /** Settles after the first connection attempt, whatever its outcome. */
  readonly firstAttempt: Promise<void>
  private resolveFirst: () => void = () => {}
  private state: PeerState = 'connecting'
  private since = new Date()
  private lastError: MemweaveError | undefined
  private attempts = 0
  private latencyMs: number | undefined
  private live: ProtocolPeerSession | undefined
  private client: ProtocolClient | undefined
  private readonly totals: ClientTraffic = { messagesOut: 0, bytesOut: 0, messagesIn: 0, bytesIn: 0 }
  private stopped = false
  private wake: (() => void) | undefined

  constructor(
    readonly spec: PeerSpec,
    private readonly token: string | undefined,
    private readonly tuning: PeerTuning,
    private readonly selfId: string,
    private readonly log: Logger,
    private readonly events: PeerEvents,
  ) {
    this.name = spec.name
    this.firstAttempt = new Promise((resolve) => { this.resolveFirst = resolve })
  }

  current(): ProtocolPeerSession | undefined {
    return this.live
  }

  session(): ProtocolPeerSession {
    if (this.live !== undefined) return this.live
    const why = this.lastError === undefined ? '' : `: ${this.lastError.message}`
    throw new MemweaveError('node', 'disconnected', `peer '${this.name}' is ${this.state === 'up' ? 'reconnecting' : this.state}${why}`)
  }

  /** Starts the connect loop, detached from whatever request added the peer. */
  start(): void {
    outsideRequests(() => {
      this.run().catch((err: unknown) => this.log.error({ err }, 'peer connection loop failed'))
    })
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.setState('removed')
    this.wake?.()
    this.resolveFirst()
    await this.client?.disconnect()
  }

  status(): PeerStatus {
    const now = this.client?.traffic
    const traffic = now === undefined || this.live === undefined ? { ...this.totals } : {
      messagesOut: this.totals.messagesOut + now.messagesOut, bytesOut: this.totals.bytesOut + now.bytesOut,
      messagesIn: this.totals.messagesIn + now.messagesIn, bytesIn: this.totals.bytesIn + now.bytesIn,
    }
    const tls = !this.spec.url.startsWith('wss:') ? 'none'
      : this.spec.fingerprint !== undefined ? `pinned ${this.spec.fingerprint}` : this.spec.caFile !== undefined ? `ca ${this.spec.caFile}` : 'system CAs'
    return {
      name: this.name, url: this.spec.url, state: this.state, since: this.since.toISOString(),
      lastError: this.lastError?.message, connectAttempts: this.attempts, remoteNodeId: this.live?.remoteNodeId,
      latencyMs: this.latencyMs, traffic, outstanding: this.live?.outstanding ?? { requests: 0, readBytes: 0 }, tls, token: this.token !== undefined,
      dataChannel: this.live === undefined || this.client === undefined ? { active: false, frames: 0, bytes: 0, reads: 0 } : this.client.dataChannel,
    }
  }

  private async run(): Promise<void> {
    let backoffMs = this.tuning.backoffMinMs
    while (!this.stopped) {
      this.setState('connecting')
      this.attempts++
      const client = await this.connect()
      if (client !== undefined) {
        await this.serve(client)
        backoffMs = this.tuning.backoffMinMs
      }
      this.resolveFirst()
      if (this.stopped) break
      await this.sleep(backoffMs)
      backoffMs = Math.min(backoffMs * 2, this.tuning.backoffMaxMs)
    }
  }

  private async connect(): Promise<ProtocolClient | undefined> {
    try {
      return await connectClient(this.spec.url, {
        token: this.token,
        name: `peer:${this.selfId}`,
        chain: [this.selfId],
        connectTimeoutMs: this.tuning.connectTimeoutMs,
        timeoutMs: this.tuning.requestTimeoutMs,
        maxMessageBytes: this.tuning.maxMessageBytes,
        tls: { fingerprint: this.spec.fingerprint, ...(this.spec.ca === undefined ? { caFile: this.spec.caFile } : { ca: this.spec.ca }) },
        log: this.log,
      })
    } catch (err) {
      this.failed(toMemweaveError(err, 'node', `cannot connect to peer '${this.name}' at ${this.spec.url}`))
      return undefined
    }
  }

  /** Runs one connection until it closes. */
  private async serve(client: ProtocolClient): Promise<void> {
    this.client = client
    const closed = new Promise<MemweaveError>((resolve) => client.onClose(resolve))
    const session = new ProtocolPeerSession(this.name, client, this.tuning)
    try {
      // Watched before the session is announced, so no change between the two is missed.
      await client.watch('', (path, via) => this.events.change(this, session, path, via ?? []), [this.selfId])
    } catch (err) {
      this.log.warn({ err }, 'the peer refused to report changes; what this node caches may lag behind')
    }
    // A peer lives long and carries big reads: its data channel (TCP) is opened before it is announced, not on the first read.
    await client.openDataChannel()
    if (this.stopped || client.closed) {
      await client.disconnect()
    } else {
      this.live = session
      this.lastError = undefined
      this.setState('up')
      this.log.info({ url: this.spec.url, remoteNodeId: session.remoteNodeId }, 'peer connected')
      this.events.up(this, session)
      this.resolveFirst()
    }
    const pinger = setInterval(() => { void this.ping(client) }, this.tuning.pingIntervalMs)
    pinger.unref()
    void this.ping(client)
    const reason = await closed
    clearInterval(pinger)
    this.totals.messagesOut += client.traffic.messagesOut
    this.totals.bytesOut += client.traffic.bytesOut
    this.totals.messagesIn += client.traffic.messagesIn
    this.totals.bytesIn += client.traffic.bytesIn
    this.client = undefined
    if (this.live === session) this.live = undefined
    session.lifetime.end(this.stopped ? `peer '${this.name}' was removed` : `peer '${this.name}' disconnected (${reason.message})`)
    if (!this.stopped) this.failed(reason)
    this.events.down(this, session)
  }

  private async ping(client: ProtocolClient): Promise<void> {
    if (client.closed) return
    const timeoutMs = Math.max(MIN_PING_TIMEOUT_MS, 3 * this.tuning.pingIntervalMs)
    const started = performance.now()
    let timer: NodeJS.Timeout | undefined
    const expired = new Promise<'expired'>((resolve) => { timer = setTimeout(() => resolve('expired'), timeoutMs) })
    try {
      const answer = await Promise.race([client.ping(), expired])
      if (answer === 'expired') {
        this.log.warn({ timeoutMs }, 'peer stopped answering pings; cutting the connection')
        client.terminate()
        return
      }
      this.latencyMs = Math.round((performance.now() - started) * 1000) / 1000
    } catch (err) {
      if (!client.closed) this.log.debug({ err }, 'ping failed')
    } finally {
      clearTimeout(timer)
    }
  }

  private failed(error: MemweaveError): void {
    const repeated = this.lastError?.message === error.message
    this.lastError = error
    this.latencyMs = undefined
    if (!this.stopped) this.setState('down')
    if (repeated) { this.log.debug({ err: error }, 'peer still unreachable'); return }
    // A version mismatch or a refused token will not fix itself: say so loudly.
    const level = error.kind === 'version_mismatch' || error.kind === 'unauthorized' ? 'error' : 'warn'
    this.log[level]({ err: error, url: this.spec.url }, `peer '${this.name}' is down: ${error.message}`)
  }

  private setState(state: PeerState): void {
    if (this.state === state || this.state === 'removed') return
    this.state = state
    this.since = new Date()
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.wake = undefined; resolve() }, ms)
      timer.unref()
      this.wake = () => { clearTimeout(timer); this.wake = undefined; resolve() }
    })
  }
}
