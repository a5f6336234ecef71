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
 * Its parts: connection-context.ts (what the daemon gives it), -admission.ts
 * (the limits a request must pass), -outbox.ts (sending and backpressure),
 * -handles.ts, -requests.ts (cancel, rpc progress), -watches.ts.
 */
import type { Logger } from 'pino'
import { WebSocket } from 'ws'
import type { RawData } from 'ws'
import { MemweaveError, toMemweaveError } from '../errors/index.js'
import { currentEventVia, runAsClient, runWithVia } from '../tree/index.js'
import { decodeMessage, toWireError } from './codec.js'
import { protocolError } from './field-guards.js'
import { CLOSE_CODES, formatVersion } from './messages.js'
import type { Request, RequestOf, ServerHello, WireWriteResult } from './messages.js'
import { answerRingOffer } from './server-data-ring.js'
import type { ServerDataRing } from './server-data-ring.js'
import { SessionChannel } from './server-data-channel.js'
import type { ServerDataChannel } from './server-data-channel.js'
import { AccessGuard } from './auth/access-guard.js'
import { identityRights } from './auth/credentials.js'
import type { Identity } from './auth/credentials.js'
import type { ConnectionContext } from './connection-context.js'
import { admission } from './connection-admission.js'
import { ConnectionHandles } from './connection-handles.js'
import { ConnectionOutbox } from './connection-outbox.js'
import { ConnectionRequests } from './connection-requests.js'
import { ConnectionWatches } from './connection-watches.js'
import { parseRequest } from './request-guards.js'
import { serveGet } from './server-get.js'
import { serveRead } from './server-read.js'
import { checkHello } from './server-hello.js'

let connectionSerial = 0

export class ServerConnection {
  readonly owner = `conn-${++connectionSerial}`
  /** Resolves once the connection is closed and its handles are released. */
  readonly finished: Promise<void>
  private readonly log: Logger
  private state: 'hello' | 'open' | 'closing' | 'closed' = 'hello'
  private inFlight = 0
  private inFlightReadBytes = 0
  /** What running requests were charged in the budget and still hold (a reply takes its share over when sent). */
  private readonly charges = new Set<{ bytes: number }>()
  private protocolErrors = 0
  private readonly out: ConnectionOutbox
  private readonly handles: ConnectionHandles
  private readonly requests: ConnectionRequests
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

  /** `local`: the client came through a unix socket (the only kind that may share a data ring); `browser`: it sent an Origin. */
  constructor(private readonly ws: WebSocket, private readonly ctx: ConnectionContext, private readonly peer: string, private readonly local = false, private readonly browser = false) {
    this.log = ctx.log.child({ conn: this.owner })
    this.out = new ConnectionOutbox(ws, ctx.budget, this.owner, this.log, ctx.limits.maxBufferedBytes, {
      overfull: () => this.pause('client is not reading; pausing its requests'),
      flushed: () => this.maybeResume(),
    })
    this.handles = new ConnectionHandles(ctx.tree, this.owner, ctx.limits.maxHandlesPerClient, this.log, (handle, reason) => {
      if (this.state === 'open') this.out.sendMessage({ event: 'stale', handle, reason })
    })
    this.requests = new ConnectionRequests(ctx.tree, this.owner, () => this.clientMinor >= 2 && this.state === 'open', (event) => this.out.sendMessage(event))
    this.channel = new SessionChannel(ctx.channels, ctx.channels !== undefined && !local && !browser, this.owner, ctx.port)
    this.watches = new ConnectionWatches(ctx.tree.events, ctx.limits.maxWatches, (event) => {
      if (this.state !== 'open') return true // nobody to tell: drop it
      if (this.guard?.visible(event.path) === false) return true // outside this token's paths: it does not exist
      if (this.paused) return false
      this.out.sendMessage(event)
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
    const admitted = admission(request, { requests: this.inFlight, readBytes: this.inFlightReadBytes }, this.ctx.tree, this.ctx.limits, this.ctx.budget)
    if ('refused' in admitted) { this.out.replyError(request.id, admitted.refused); return }
    const { readBytes } = admitted
    const { budget } = this.ctx
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
    this.charges.add(charge)
    // run() answers every failure itself; the catch only guards the daemon against a bug there.
    void runAsClient(this.owner, () => this.run(request, charge)).catch((err: unknown) => this.log.error({ err }, 'request handler failed')).finally(() => {
      this.inFlight--
      this.inFlightReadBytes -= readBytes
      this.charges.delete(charge)
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
        case 'list': this.out.reply(request.id, guard.filterList(request.path, await this.hop(request.via, () => tree.list(request.path)))); return
        case 'stat': this.out.reply(request.id, await this.hop(request.via, () => tree.stat(request.path))); return
        case 'open': {
          this.handles.checkCap()
          const opened = await guard.checkOpened(request.path, await this.hop(request.via, () => tree.open(request.path, this.owner, { exclusive: request.exclusive === true })), (handle) => tree.close(handle, this.owner))
          this.out.reply(request.id, opened)
          if (this.clientMinor >= 2) await this.handles.watchStale(opened.handle)
          return
        }
        // The reply takes over what this read was charged in the budget (the same buffers).
        case 'read': await serveRead({
          tree, owner: this.owner, id: request.id, handle: request.handle, pieces: request.pieces,
          ring: () => (this.ws.readyState === WebSocket.OPEN ? this.ring : undefined), send: (parts, done) => this.out.send(parts, charge, done === undefined ? undefined : { done }),
          ...(request.channel === true ? { channel: () => this.channel.current, sendOnChannel: (parts, channel, done) => this.out.send(parts, charge, { channel, done }) } : {}),
        }); return
        case 'write': {
          const results = await tree.write(request.handle, request.pieces, this.owner)
          this.out.reply(request.id, results.map((r): WireWriteResult => (r.ok ? { ok: true } : { error: toWireError(r.error) })))
          return
        }
        case 'rpc': this.out.reply(request.id, await this.requests.rpc(request)); return
        case 'close': await tree.close(request.handle, this.owner); this.out.reply(request.id, null); this.handles.dropStaleWatch(request.handle); return
        case 'watch': await this.hop(request.via, () => this.ctx.tree.events.prepare(request.path)); this.hop(request.via, () => this.watch(request)); return
        case 'unwatch': this.unwatch(request); return
        case 'ping': this.out.reply(request.id, { timeMs: Date.now() }); return
        case 'ticket': this.ticket(request.id); return
        case 'cancel': this.requests.cancel(request.target); this.out.reply(request.id, null); return
        case 'download': this.out.reply(request.id, await this.ctx.downloads.issue(guard.identity, request, (path) => tree.stat(path))); return
        case 'channel': this.out.reply(request.id, this.channel.ticket()); return
        case 'get': this.out.reply(request.id, await this.requests.cancellable(request.id, (signal) => serveGet({ tree, owner: this.owner, guard, paths: request.paths, ...(request.maxBytes === undefined ? {} : { maxBytes: request.maxBytes }), signal }))); return
        case 'hello': return // handled before admission
      }
    } catch (err) {
      this.out.replyError(request.id, err)
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
    this.out.reply(request.id, hello)
  }

  /** A ticket for a browser session with this connection's rights; a browser session cannot pass its own on. */
  private ticket(id: number): void {
    if (this.browser) throw new MemweaveError('net', 'permission', 'a browser session cannot issue tickets')
    if (this.identity === undefined) throw new MemweaveError('net', 'internal', 'a ticket asked for before hello')
    this.out.reply(id, { ...this.ctx.tickets.issue(identityRights(this.identity)), pages: this.ctx.pages() })
  }

  /** Joins a data channel to this open session (its ticket was checked); the two end together. */
  attachChannel(open: () => ServerDataChannel): string | undefined {
    // Replies on their way through a lost channel are lost: the session cannot go on without them.
    return this.channel.attach(open, this.state === 'open', (reason) => this.hangUp(CLOSE_CODES.protocolError, `data channel closed: ${reason}`))
  }

  // No await between subscribing and replying: no event can overtake the reply that names the watch.
  private watch(request: RequestOf<'watch'>): void {
    this.out.reply(request.id, { watchId: this.watches.add(request.path, request.objects === true) })
  }

  private unwatch(request: RequestOf<'unwatch'>): void {
    this.watches.remove(request.watchId)
    this.out.reply(request.id, null)
  }

  private pause(why: string): void {
    if (this.paused) return
    this.paused = true
    this.ws.pause()
    this.log.debug({ unflushedBytes: this.out.unflushedBytes }, why)
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
    if (id === undefined) this.out.sendMessage({ event: 'protocol-error', error: toWireError(error) })
    else this.out.replyError(id, error)
  }

  private maybeResume(): void {
    if (!this.paused || this.awaitingBudget || this.out.unflushedBytes > this.ctx.limits.maxBufferedBytes / 4 || this.state === 'closed') return
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
    if (id === undefined) this.out.sendMessage({ event: 'protocol-error', error: toWireError(error) })
    else this.out.replyError(id, error)
    if (error.kind !== 'protocol' && error.kind !== 'malformed') return
    if (++this.protocolErrors >= this.ctx.limits.maxProtocolErrors) {
      this.log.warn({ errors: this.protocolErrors }, 'closing a connection that keeps sending malformed messages')
      this.hangUp(CLOSE_CODES.tooManyErrors, 'too many malformed messages')
    }
  }

  /** Answers with the error, then closes: used where the connection cannot go on (bad hello). */
  private refuse(id: number | undefined, error: MemweaveError, code: number): void {
    this.log.info({ err: error }, 'refusing connection')
    if (id === undefined) this.out.sendMessage({ event: 'protocol-error', error: toWireError(error) })
    else this.out.replyError(id, error)
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
    return this.out.stalledMs(now)
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
    this.requests.abortAll()
    this.handles.stopWatching()
    this.waiting.length = 0
    this.ctx.budget.dropWaiters(this.owner)
    // Its unflushed replies went with the socket; a read still running keeps its charge (and its memory) until it ends.
    let reading = 0
    for (const charge of this.charges) reading += charge.bytes
    this.ctx.budget.release(this.owner, this.ctx.budget.heldBy(this.owner) - reading)
    this.watches.clear()
    await this.handles.dropAll()
    this.log.debug({ code, reason, inFlight: this.inFlight, dataRing: this.ring?.stats }, 'connection closed')
    if (this.inFlight > 0) {
      // Opens still running will add references after the drop above; drop those too once they finish.
      this.onIdle = () => { void this.handles.dropAll() }
    }
  }
}
