/**
 * One client connection on the server: the hello handshake, then pipelined
 * requests run against the tree as this connection's owner id. Everything a
 * client sends is checked; garbage gets an error (and, repeated, a hang-up),
 * never a crash. A client that stops reading stops being served until it
 * drains; a client that vanishes loses its handles and its pending replies.
 * A unix-socket client may offer a data ring at hello (server-data-ring.ts):
 * big read replies are then written there and carry ring positions.
 * A TCP client may join a data channel to its session (server-data-channel.ts):
 * reads that ask for it are answered there, and each ends with the other.
 */
import type { Logger } from 'pino'
import { WebSocket } from 'ws'
import type { RawData } from 'ws'
import { MemweaveError, toMemweaveError } from '../errors/index.js'
import { currentEventVia, runWithVia } from '../tree/index.js'
import type { Tree } from '../tree/index.js'
import { encodeMessage, decodeMessage, toWireError } from './codec.js'
import { protocolError } from './field-guards.js'
import { CLOSE_CODES, formatVersion } from './messages.js'
import type { Request, RequestOf, ServerHello, ServerMessage, WireWriteResult } from './messages.js'
import { answerRingOffer } from './server-data-ring.js'
import type { DataRingPolicy, ServerDataRing } from './server-data-ring.js'
import { SessionChannel } from './server-data-channel.js'
import type { ChannelTickets, ServerDataChannel } from './server-data-channel.js'
import { AccessGuard } from './auth/access-guard.js'
import type { AuditLog } from './auth/audit.js'
import { identityRights } from './auth/credentials.js'
import type { Authenticator, Identity, Transport } from './auth/credentials.js'
import type { BrowserTickets } from './browser-tickets.js'
import type { Downloads } from './downloads.js'
import { ConnectionWatches } from './connection-watches.js'
import { parseRequest } from './request-guards.js'
import { serveGet } from './server-get.js'
import { serveRead } from './server-read.js'
import { checkHello } from './server-hello.js'
import type { ServerLimits } from './server-limits.js'
import type { DaemonBudget } from './server-budget.js'
import { runAsClient } from '../tree/index.js'

export interface ConnectionContext {
  readonly tree: Tree
  readonly log: Logger
  readonly limits: ServerLimits
  /** The daemon-wide memory budget every connection draws on. */
  readonly budget: DaemonBudget
  /** Who may connect (tokens, roles) and the audit trail of who did. */
  readonly auth: Authenticator
  readonly audit: AuditLog
  /** The listener this connection came through (set per connection by the server). */
  readonly transport?: Transport
  readonly port?: number
  readonly nodeId: string
  /** One-time tickets for browser sessions (issued by the `ticket` op, traded at hello). */
  readonly tickets: BrowserTickets
  /** Streamed downloads (the `download` op's tickets, posted to the TCP listener). */
  readonly downloads: Downloads
  /** The web page's URLs, when the daemon serves it. */
  pages(): string[]
  /** Unset: data rings are off, and an offered one is ignored as a 1.0 daemon would. */
  readonly dataRing: DataRingPolicy | undefined
  /** Tickets for TCP data channels (1.6); unset: none are offered. */
  readonly channels?: ChannelTickets
  hello(owner: string): ServerHello
}

let connectionSerial = 0
/** Progress events for one request are at least this far apart (the last one always goes). */
const PROGRESS_INTERVAL_MS = 100

export class ServerConnection {
  readonly owner = `conn-${++connectionSerial}`
  /** Resolves once the connection is closed and its handles are released. */
  readonly finished: Promise<void>
  private readonly log: Logger
  private state: 'hello' | 'open' | 'closing' | 'closed' = 'hello'
  private inFlight = 0
  private inFlightReadBytes = 0
  private protocolErrors = 0
  private unflushedBytes = 0
  /** When a reply last finished flushing (or the connection went quiet with nothing unflushed). */
  private lastFlushAt = Date.now()
  private paused = false
  /** A read is waiting for room in the daemon's budget: nothing more is read from this client until it gets it. */
  private awaitingBudget = false
  private readonly waiting: Array<{ data: RawData; isBinary: boolean }> = []
  private readonly watches: ConnectionWatches
  /** Node ids the client said it comes through (a peer's own id); changes that came from them are not echoed back. */
  private clientChain: readonly string[] = []
  private readonly helloTimer: NodeJS.Timeout
  private readonly heartbeat: NodeJS.Timeout
  private answeredPing = true
  private onIdle: (() => void) | undefined
  /** The client's shared data ring, when it offered one we accepted. */
  private ring: ServerDataRing | undefined
  /** The client's TCP data channel (offered to TCP clients but browsers), once it opened one. */
  private readonly channel: SessionChannel
  /** Who the client proved to be at hello, and what that lets it do. */
  private identity: Identity | undefined
  private guard: AccessGuard | undefined

  /** The minor protocol version the client said it speaks (1.2 events go only to clients that know them). */
  private clientMinor = 0
  /** Requests that can be cancelled, by id. */
  private readonly running = new Map<number, AbortController>()
  /** Handles whose going stale this client is told of, and how to stop listening. */
  private readonly staleWatches = new Map<number, () => void>()

  /** `local`: the client came through a unix socket (the only kind that may share a data ring); `browser`: it sent an Origin. */
  constructor(private readonly ws: WebSocket, private readonly ctx: ConnectionContext, private readonly peer: string, private readonly local = false, private readonly browser = false) {
    this.log = ctx.log.child({ conn: this.owner })
    this.channel = new SessionChannel(ctx.channels, ctx.channels !== undefined && !local && !browser, this.owner, ctx.port)
    this.watches = new ConnectionWatches(ctx.tree.events, ctx.limits.maxWatches, (event) => {
      if (this.state !== 'open') return true // nobody to tell: drop it
      if (this.guard?.visible(event.path) === false) return true // outside this token's paths: it does not exist
      if (this.paused) return false
      this.sendMessage(event)
      return true
    }, () => this.eventVia())
    this.log.debug({ peer }, 'connection opened')
    this.helloTimer = setTimeout(() => this.hangUp(CLOSE_CODES.helloTimeout, 'no hello in time'), ctx.limits.helloTimeoutMs)
    this.heartbeat = setInterval(() => this.beat(), ctx.limits.heartbeatMs)
    this.heartbeat.unref()
    ws.on('pong', () => { this.answeredPing = true })
    ws.on('message', (data, isBinary) => this.onFrame(data, isBinary))
    ws.on('error', (err) => this.log.debug({ err }, 'connection error'))
    this.finished = new Promise((resolve) => ws.once('close', (code, reason) => { void this.cleanup(code, reason.toString()).then(resolve) }))
  }

  private onFrame(data: RawData, isBinary: boolean): void {
    if (this.state === 'closing' || this.state === 'closed') return
    if (this.paused) {
      if (this.waiting.length >= this.ctx.limits.maxQueuedRequests) this.refuseQueued(data, isBinary)
      else this.waiting.push({ data, isBinary })
      return
    }
    this.handleGuarded(data, isBinary)
  }

  /** Every frame, fresh or drained from the queue, is handled here. */
  private handleGuarded(data: RawData, isBinary: boolean): void {
    try {
      this.handleFrame(data, isBinary)
    } catch (err) {
      // A bug must cost this connection, never the daemon (a throw here would escape into ws, or into
      // whatever callback drained the queue: a send completion, the memory budget, a ring offer).
      this.log.error({ err }, 'internal error while handling a message')
      this.hangUp(CLOSE_CODES.internalError, 'internal error')
    }
  }

  private handleFrame(data: RawData, isBinary: boolean): void {
    if (!isBinary) {
      this.protocolFailure(undefined, protocolError('text frames are not part of the protocol: send each request as one binary msgpack message'))
      return
    }
    let value: unknown
    try {
      value = decodeMessage(Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data))
    } catch (err) {
      this.protocolFailure(undefined, toMemweaveError(err, 'net', 'cannot decode the frame'))
      return
    }
    const parsed = parseRequest(value, this.ctx.tree.maxPieces)
    if (!parsed.ok) { this.protocolFailure(parsed.id, parsed.error); return }
    const request = parsed.request
    if (this.state === 'hello') {
      if (request.op === 'hello') this.hello(request)
      else this.refuse(request.id, protocolError(`the first message must be hello, got '${request.op}'`), CLOSE_CODES.protocolError)
      return
    }
    if (request.op === 'hello') { this.protocolFailure(request.id, protocolError('hello was already done on this connection')); return }
    if (request.op === 'read' && request.consumed !== undefined) this.ring?.release(request.consumed)
    this.admit(request)
  }

  /** Starts a request unless this connection already has too much in flight. */
  private admit(request: Request): void {
    const { maxInFlight, maxInFlightReadBytes } = this.ctx.limits
    if (this.inFlight >= maxInFlight) {
      this.replyError(request.id, new MemweaveError('net', 'limit', `more than ${maxInFlight} requests in flight on this connection; wait for replies`))
      return
    }
    if (request.op === 'read') {
      // A read the tree refuses outright (a 2^53-byte length) is answered now and never counts as in flight.
      try {
        this.ctx.tree.checkRead(request.pieces)
      } catch (err) {
        this.replyError(request.id, err)
        return
      }
    }
    const readBytes = request.op === 'read' ? request.pieces.reduce((sum, p) => sum + p.length, 0) : 0
    if (readBytes > 0 && this.inFlightReadBytes > 0 && this.inFlightReadBytes + readBytes > maxInFlightReadBytes) {
      this.replyError(request.id, new MemweaveError('net', 'limit', `reads of more than ${maxInFlightReadBytes} bytes in flight on this connection; wait for replies`))
      return
    }
    const { budget } = this.ctx
    if (readBytes > budget.capacityBytes) {
      this.replyError(request.id, new MemweaveError('net', 'limit', `a read of ${readBytes} bytes is more than the daemon's memory budget (${budget.capacityBytes} bytes); split it`))
      return
    }
    if (readBytes > 0 && !budget.tryTake(this.owner, readBytes)) {
      // No room: stop reading this client's requests (they wait in its socket) until the budget has room for this one.
      this.awaitingBudget = true
      this.pause('waiting for room in the memory budget')
      budget.wait(this.owner, readBytes, () => {
        this.awaitingBudget = false
        if (this.state === 'closing' || this.state === 'closed') { budget.release(this.owner, readBytes); return }
        this.start(request, readBytes)
        this.maybeResume()
      })
      return
    }
    this.start(request, readBytes)
  }

  /** Runs an admitted request; readBytes were taken from the budget and pass to its reply (or go back if there is none). */
  private start(request: Request, readBytes: number): void {
    const charge = { bytes: readBytes }
    this.inFlight++
    this.inFlightReadBytes += readBytes
    // run() answers every failure itself; the catch only guards the daemon against a bug there.
    void runAsClient(this.owner, () => this.run(request, charge)).catch((err: unknown) => this.log.error({ err }, 'request handler failed')).finally(() => {
      this.inFlight--
      this.inFlightReadBytes -= readBytes
      // Whatever the reply did not take over goes back now.
      this.ctx.budget.release(this.owner, charge.bytes)
      if (this.inFlight === 0) this.onIdle?.()
    })
  }

  private async run(request: Request, charge: { bytes: number }): Promise<void> {
    const { tree } = this.ctx
    try {
      const guard = this.guard
      if (guard === undefined) throw new MemweaveError('net', 'internal', 'a request ran before hello')
      guard.check(request.op, 'path' in request && typeof request.path === 'string' ? request.path : undefined)
      switch (request.op) {
        case 'list': this.reply(request.id, guard.filterList(request.path, await this.hop(request.via, () => tree.list(request.path)))); return
        case 'stat': this.reply(request.id, await this.hop(request.via, () => tree.stat(request.path))); return
        case 'open': {
          this.checkHandleCap()
          const opened = await guard.checkOpened(request.path, await this.hop(request.via, () => tree.open(request.path, this.owner, { exclusive: request.exclusive === true })), (handle) => tree.close(handle, this.owner))
          this.reply(request.id, opened)
          await this.watchStale(opened.handle)
          return
        }
        // The reply takes over what this read was charged in the budget (the same buffers).
        case 'read': await serveRead({
          tree, owner: this.owner, id: request.id, handle: request.handle, pieces: request.pieces,
          ring: () => (this.ws.readyState === WebSocket.OPEN ? this.ring : undefined), send: (parts) => this.send(parts, charge),
          ...(request.channel === true ? { channel: () => this.channel.current, sendOnChannel: (parts, channel, done) => this.send(parts, charge, { channel, done }) } : {}),
        }); return
        case 'write': {
          const results = await tree.write(request.handle, request.pieces, this.owner)
          this.reply(request.id, results.map((r): WireWriteResult => (r.ok ? { ok: true } : { error: toWireError(r.error) })))
          return
        }
        case 'rpc': this.reply(request.id, await this.rpc(request)); return
        case 'close': await tree.close(request.handle, this.owner); this.reply(request.id, null); this.dropStaleWatch(request.handle); return
        case 'watch': await this.hop(request.via, () => this.ctx.tree.events.prepare(request.path)); this.hop(request.via, () => this.watch(request)); return
        case 'unwatch': this.unwatch(request); return
        case 'ping': this.reply(request.id, { timeMs: Date.now() }); return
        case 'ticket': this.ticket(request.id); return
        case 'cancel': this.running.get(request.target)?.abort(); this.reply(request.id, null); return
        case 'download': this.reply(request.id, await this.ctx.downloads.issue(guard.identity, request, (path) => tree.stat(path))); return
        case 'channel': this.reply(request.id, this.channel.ticket()); return
        case 'get': this.reply(request.id, await this.cancellable(request.id, (signal) => serveGet({ tree, owner: this.owner, guard, paths: request.paths, ...(request.maxBytes === undefined ? {} : { maxBytes: request.maxBytes }), signal }))); return
        case 'hello': return // handled before admission
      }
    } catch (err) {
      this.replyError(request.id, err)
    }
  }

  private checkHandleCap(): void {
    const { maxHandlesPerClient } = this.ctx.limits
    if (this.ctx.tree.handles.ownedBy(this.owner) >= maxHandlesPerClient) {
      throw new MemweaveError('net', 'limit', `this connection holds ${maxHandlesPerClient} handles (the most one client may); close some first`)
    }
  }

  /** Runs a forwarded path request with its hop chain visible to the tree; one that already passed here is a loop. */
  private hop<T>(via: readonly string[] | undefined, job: () => T): T {
    if (via?.includes(this.ctx.nodeId) === true) {
      throw new MemweaveError('net', 'invalid_argument', `composition loop: this request already passed through node ${this.ctx.nodeId}`)
    }
    return runWithVia(via, job)
  }

  /** The nodes a change came through, this one last; undefined drops it (it came from this client: no echo). */
  private eventVia(): readonly string[] | undefined {
    const via = currentEventVia()
    return via.some((node) => this.clientChain.includes(node)) ? undefined : [...via, this.ctx.nodeId]
  }

  private hello(request: RequestOf<'hello'>): void {
    const transport = this.ctx.transport ?? (this.local ? 'unix' : 'tcp')
    const checked = checkHello(request, { auth: this.ctx.auth, transport, port: this.ctx.port, tickets: this.ctx.tickets }, this.ctx.nodeId)
    if (!('identity' in checked)) {
      this.ctx.audit.refused({ transport, address: this.peer }, checked.error.message)
      this.refuse(request.id, checked.error, checked.closeCode)
      return
    }
    this.identity = checked.identity
    this.guard = new AccessGuard(checked.identity)
    this.ctx.audit.accepted({ transport, address: this.peer }, checked.identity, this.owner)
    let hello: ServerHello
    try {
      hello = { ...this.ctx.hello(this.owner), ...(this.channel.offered ? { dataChannel: true } : {}) }
    } catch (err) {
      this.refuse(request.id, toMemweaveError(err, 'net', 'cannot describe this node'), CLOSE_CODES.internalError)
      return
    }
    const policy = this.ctx.dataRing
    if (request.dataPath === undefined || policy === undefined) { this.greet(request, hello); return }
    // Opening the offered ring file takes a moment; frames that come meanwhile wait (and the hello timer still runs).
    this.paused = true
    this.ws.pause()
    void answerRingOffer({ path: request.dataPath, key: request.dataKey ?? new Uint8Array(0) }, this.local, policy, this.log).then(({ answer, ring }) => {
      if (this.state !== 'hello') { ring?.close(); return }
      this.ring = ring
      this.greet(request, { ...hello, dataRing: answer })
      this.maybeResume()
    })
  }

  private greet(request: RequestOf<'hello'>, hello: ServerHello): void {
    clearTimeout(this.helloTimer)
    this.state = 'open'
    this.clientChain = request.client?.chain ?? []
    this.clientMinor = request.version.minor
    // How refusals of exclusive opens name this connection to others.
    const client = request.client?.name === undefined ? '' : `${request.client.name.slice(0, 64)}, `
    this.ctx.tree.handles.holds.label(this.owner, `${this.owner} (${client}${this.local ? 'unix socket' : `from ${this.peer}`})`)
    this.log.debug({ client: request.client?.name, version: formatVersion(request.version), dataRing: this.ring !== undefined }, 'hello')
    this.reply(request.id, hello)
  }

  /** Runs a request the `cancel` op can stop (through its signal). */
  private async cancellable<T>(id: number, job: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController()
    this.running.set(id, controller)
    try {
      return await job(controller.signal)
    } finally {
      this.running.delete(id)
    }
  }

  /** An rpc that can be cancelled (the `cancel` op) and report progress (events for clients that speak 1.2). */
  private async rpc(request: RequestOf<'rpc'>): Promise<unknown> {
    let lastProgressMs = 0
    const progress = (done: number, total: number, detail?: Readonly<Record<string, unknown>>): void => {
      const now = performance.now()
      // At most one event per PROGRESS_INTERVAL_MS, and none for clients that do not know the event.
      if (this.clientMinor < 2 || this.state !== 'open' || (now - lastProgressMs < PROGRESS_INTERVAL_MS && done < total)) return
      lastProgressMs = now
      this.sendMessage({ event: 'progress', id: request.id, done, total, ...(detail === undefined ? {} : { detail }) })
    }
    return this.cancellable(request.id, (signal) => this.ctx.tree.rpc(request.handle, request.request, this.owner, { signal, progress }))
  }

  /** Tells a 1.2 client when a handle it opened goes stale (a process exits, a peer is lost), once per handle. */
  private async watchStale(handle: number): Promise<void> {
    if (this.clientMinor < 2 || this.staleWatches.has(handle)) return
    const entry = await this.ctx.tree.handles.get(handle, this.owner).catch(() => undefined)
    if (entry === undefined) return
    this.staleWatches.set(handle, entry.leaf.lifetime.onEnd((reason) => {
      this.staleWatches.delete(handle)
      if (this.state === 'open') this.sendMessage({ event: 'stale', handle, reason: `${entry.leaf.lifetime.description} ${reason}` })
    }))
  }

  /** Stops telling about a handle this connection no longer holds (so closed handles leave no listener behind). */
  private dropStaleWatch(handle: number): void {
    const stop = this.staleWatches.get(handle)
    if (stop === undefined || this.ctx.tree.handles.isHeldBy(handle, this.owner)) return
    stop()
    this.staleWatches.delete(handle)
  }

  /** A ticket for a browser session with this connection's rights; a browser session cannot pass its own on. */
  private ticket(id: number): void {
    if (this.browser) throw new MemweaveError('net', 'permission', 'a browser session cannot issue tickets')
    if (this.identity === undefined) throw new MemweaveError('net', 'internal', 'a ticket asked for before hello')
    this.reply(id, { ...this.ctx.tickets.issue(identityRights(this.identity)), pages: this.ctx.pages() })
  }

  /** Joins a data channel to this open session (its ticket was checked); the two end together. */
  attachChannel(open: () => ServerDataChannel): string | undefined {
    // Replies on their way through a lost channel are lost: the session cannot go on without them.
    return this.channel.attach(open, this.state === 'open', (reason) => this.hangUp(CLOSE_CODES.protocolError, `data channel closed: ${reason}`))
  }

  // No await between subscribing and replying: no event can overtake the reply that names the watch.
  private watch(request: RequestOf<'watch'>): void {
    this.reply(request.id, { watchId: this.watches.add(request.path, request.objects === true) })
  }

  private unwatch(request: RequestOf<'unwatch'>): void {
    this.watches.remove(request.watchId)
    this.reply(request.id, null)
  }

  private reply(id: number, result: unknown): void {
    this.sendMessage({ id, result })
  }

  private replyError(id: number, err: unknown): void {
    this.sendMessage({ id, error: toWireError(err) })
  }

  private sendMessage(message: ServerMessage): void {
    let encoded: Buffer
    try {
      encoded = encodeMessage(message)
    } catch (err) {
      // Only a reply's result can be unencodable (an rpc returning a function, say); the error itself always encodes.
      if (!('id' in message)) throw err
      encoded = encodeMessage({ id: message.id, error: toWireError(err, 'reply cannot be sent') })
    }
    this.send([encoded])
  }

  /**
   * Sends one message made of parts (WebSocket fragments, or one frame on the data channel), counting bytes
   * until the socket has taken them; `onChannel.done` runs once either way.
   */
  private send(parts: readonly Buffer[], charge?: { bytes: number }, onChannel?: { channel: ServerDataChannel; done: () => void }): void {
    if (this.ws.readyState !== WebSocket.OPEN) { onChannel?.done(); return } // the client is gone: its replies are dropped
    const bytes = parts.reduce((sum, p) => sum + p.length, 0)
    this.unflushedBytes += bytes
    // A read reply takes over what its request was charged (the same buffers); only the rest is added.
    const prepaid = Math.min(charge?.bytes ?? 0, bytes)
    if (charge !== undefined) charge.bytes -= prepaid
    this.ctx.budget.force(this.owner, bytes - prepaid)
    if (this.unflushedBytes === bytes) this.lastFlushAt = Date.now() // nothing was pending: the clock starts now
    const flushed = (err?: Error): void => {
      this.unflushedBytes -= bytes
      this.lastFlushAt = Date.now()
      this.ctx.budget.release(this.owner, bytes)
      if (err !== undefined) this.log.debug({ err }, 'reply not delivered')
      onChannel?.done()
      this.maybeResume()
    }
    const last = parts.length - 1
    if (onChannel !== undefined) onChannel.channel.write(parts, flushed)
    else parts.forEach((part, i) => this.ws.send(part, { binary: true, fin: i === last }, i === last ? flushed : undefined))
    if (!this.paused && this.unflushedBytes > this.ctx.limits.maxBufferedBytes) this.pause('client is not reading; pausing its requests')
  }

  private pause(why: string): void {
    if (this.paused) return
    this.paused = true
    this.ws.pause()
    this.log.debug({ unflushedBytes: this.unflushedBytes }, why)
  }

  /** A request that came while this connection was paused with its queue full: answered with an error, not queued. */
  private refuseQueued(data: RawData, isBinary: boolean): void {
    let id: number | undefined
    try {
      const parsed = isBinary ? parseRequest(decodeMessage(Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data)), this.ctx.tree.maxPieces) : undefined
      id = parsed === undefined ? undefined : parsed.ok ? parsed.request.id : parsed.id
    } catch (err) {
      this.log.debug({ err }, 'an undecodable request came while the queue was full') // answered as an unnumbered error below
    }
    const error = new MemweaveError('net', 'limit', `more than ${this.ctx.limits.maxQueuedRequests} requests queued on this connection; wait for replies`)
    if (id === undefined) this.sendMessage({ event: 'protocol-error', error: toWireError(error) })
    else this.replyError(id, error)
  }

  private maybeResume(): void {
    if (!this.paused || this.awaitingBudget || this.unflushedBytes > this.ctx.limits.maxBufferedBytes / 4 || this.state === 'closed') return
    this.paused = false
    this.watches.flush()
    while (!this.paused && !this.awaitingBudget && this.waiting.length > 0) {
      const next = this.waiting.shift()
      if (next !== undefined && this.state !== 'closing') this.handleGuarded(next.data, next.isBinary)
    }
    if (!this.paused && !this.awaitingBudget) this.ws.resume()
  }

  private protocolFailure(id: number | undefined, error: MemweaveError): void {
    this.log.debug({ err: error, id }, 'bad message')
    if (this.state === 'hello') { this.refuse(id, error, CLOSE_CODES.protocolError); return }
    if (id === undefined) this.sendMessage({ event: 'protocol-error', error: toWireError(error) })
    else this.replyError(id, error)
    if (error.kind !== 'protocol' && error.kind !== 'malformed') return
    if (++this.protocolErrors >= this.ctx.limits.maxProtocolErrors) {
      this.log.warn({ errors: this.protocolErrors }, 'closing a connection that keeps sending malformed messages')
      this.hangUp(CLOSE_CODES.tooManyErrors, 'too many malformed messages')
    }
  }

  /** Answers with the error, then closes: used where the connection cannot go on (bad hello). */
  private refuse(id: number | undefined, error: MemweaveError, code: number): void {
    this.log.info({ err: error }, 'refusing connection')
    if (id === undefined) this.sendMessage({ event: 'protocol-error', error: toWireError(error) })
    else this.replyError(id, error)
    this.hangUp(code, error.message)
  }

  hangUp(code: number, reason: string): void {
    if (this.state === 'closing' || this.state === 'closed') return
    this.state = 'closing'
    clearTimeout(this.helloTimer)
    // A close reason is at most 123 bytes.
    this.ws.close(code, Buffer.from(reason).subarray(0, 123).toString())
  }

  private beat(): void {
    if (!this.answeredPing) {
      this.log.info('client did not answer a ping; cutting it off')
      this.terminate()
      return
    }
    this.answeredPing = false
    this.ws.ping()
  }

  /** How long this connection has held budget with replies that do not move (0 when it holds none). */
  stalledMs(now: number): number {
    return this.ctx.budget.heldBy(this.owner) > 0 && this.unflushedBytes > 0 ? now - this.lastFlushAt : 0
  }

  /** Cuts the connection without a close handshake (a client that does not answer one). */
  terminate(): void {
    this.ws.terminate()
  }

  private async cleanup(code: number, reason: string): Promise<void> {
    this.state = 'closed'
    clearTimeout(this.helloTimer)
    clearInterval(this.heartbeat)
    this.ring?.close()
    this.channel.close()
    for (const controller of this.running.values()) controller.abort()
    for (const stop of this.staleWatches.values()) stop()
    this.staleWatches.clear()
    this.waiting.length = 0
    this.ctx.budget.dropWaiters(this.owner)
    this.ctx.budget.releaseAll(this.owner) // its unflushed replies went with the socket
    this.watches.clear()
    await this.dropHandles()
    this.log.debug({ code, reason, inFlight: this.inFlight, dataRing: this.ring?.stats }, 'connection closed')
    if (this.inFlight > 0) {
      // Opens still running will add references after the drop above; drop those too once they finish.
      this.onIdle = () => { void this.dropHandles() }
    }
  }

  private async dropHandles(): Promise<void> {
    try {
      const dropped = await this.ctx.tree.handles.dropOwner(this.owner)
      this.ctx.tree.handles.holds.label(this.owner, undefined)
      if (dropped > 0) this.log.debug({ dropped }, 'released the handles of a closed connection')
    } catch (err) {
      this.log.warn({ err }, 'releasing handles of a closed connection failed')
    }
  }
}
