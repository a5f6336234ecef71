/**
 * The protocol client: a TreeClient whose tree is on a daemon. Requests are
 * pipelined (up to the server's in-flight limit, the rest wait here), big
 * batches are split to the server's limits, every reply is checked, and a
 * dropped connection fails everything pending with 'disconnected'.
 * Its parts: client-options.ts, client-pending.ts (requests on their way,
 * timed-out ones), client-batches.ts (splitting to the limits),
 * client-channel-link.ts (the TCP data channel), client-results.ts.
 */
import { WebSocket } from 'ws'
import type { RawData } from 'ws'
import { MemweaveError, toMemweaveError } from '../errors/index.js'
import { checkTarget, readFresh } from '../mem/index.js'
import type { PieceResult, ReadIntoPiece, ReadIntoResult, ReadPiece, WritePiece, WriteResult } from '../mem/index.js'
import type { Entry, OpenResult, Stat } from '../tree/index.js'
import { runBatched } from './client-batches.js'
import { placeResult, toPieceResult, viaField } from './client-results.js'
import type { ClientDataRing } from './client-data-ring.js'
import { ChannelLink } from './client-channel-link.js'
import type { ChannelDial, ChannelExpectation } from './client-data-channel.js'
import { CHANNEL_REQUEST_BYTES } from './data-channel.js'
import { chunkPieces, mergeChunks } from './client-chunks.js'
import { decodeFragments, decodeMessage, encodeMessage, fromWireError } from './codec.js'
import { protocolError } from './field-guards.js'
import { PROTOCOL_VERSION, formatVersion } from './messages.js'

/**
 * A read with bigger pieces goes through the data ring as requests of this size, RING_WINDOW of them in flight
 * (a request costs both ends about what copying 1 MiB does, so chunks stay big; 16 MiB in flight fits the default ring).
 */
export const RING_REQUEST_BYTES = 4 * 1024 * 1024
const RING_WINDOW = 4

/** The protocol minor version that knows `open` with `exclusive`. */
const EXCLUSIVE_MINOR = 3
/** The first minor with the `get` op. */
const GET_MINOR = 5
import type { Op, RequestBodies, ResultBodies, ServerHello, TicketGrant, WireGetResult, WireLimits, WireReadResult } from './messages.js'
import { RESULT_PARSERS, parseServerMessage } from './reply-guards.js'
import type { ParsedServerMessage } from './reply-guards.js'
import type { OpenOptions, TreeClient } from './tree-client.js'
import type { ClientOptions } from './client-options.js'
import { SILENT_LOG } from './client-log.js'
import type { ClientLog } from './client-log.js'
import { AbandonedRequests } from './client-pending.js'
import type { Pending } from './client-pending.js'

/** Messages and bytes this client sent and received (peers show them in sys/peers). */
export interface ClientTraffic {
  messagesOut: number
  bytesOut: number
  messagesIn: number
  bytesIn: number
}

/** A change listener; `via` lists the nodes the change came through (peers use it against echoes). */
export type ChangeListener = (changed: string, via?: readonly string[]) => void

export class ProtocolClient implements TreeClient {
  private hello: ServerHello | undefined
  private readonly log: ClientLog
  private readonly pending = new Map<number, Pending>()
  private readonly queue: Pending[] = []
  private inFlight = 0
  private nextId = 1
  private readonly watchers = new Map<number, ChangeListener>()
  readonly traffic: ClientTraffic = { messagesOut: 0, bytesOut: 0, messagesIn: 0, bytesIn: 0 }
  private readonly closeListeners = new Set<(reason: MemweaveError) => void>()
  private closeReason: MemweaveError | undefined
  /** Timed-out requests whose late replies may still hold a handle or a watch to give back (or channel bytes to skip). */
  private readonly abandoned = new AbandonedRequests()
  private readonly closedPromise: Promise<void>
  private readonly channel: ChannelLink
  /** Why the connection ends when its data channel broke (the WebSocket's own close code says less). */
  private channelLoss: MemweaveError | undefined

  /** @internal Made by connectClient (connect.ts); not part of the published types. */
  constructor(private readonly ws: WebSocket, readonly url: string, private readonly options: ClientOptions, private ring?: ClientDataRing,
    channelDial?: ChannelDial) {
    this.log = options.log ?? SILENT_LOG
    this.channel = new ChannelLink(channelDial, {
      url, log: this.log,
      available: () => this.options.dataChannel !== false && this.hello?.dataChannel === true && !this.closed,
      closed: () => this.closed,
      ticket: async () => (await this.call('channel', {})).ticket,
      replies: {
        expect: (id) => this.expectOnChannel(id),
        deliver: (id, result, bytes) => {
          this.traffic.messagesIn++
          this.traffic.bytesIn += bytes
          this.complete({ kind: 'result', id, result })
        },
      },
      openLimits: () => ({ maxDataBytes: this.limits.maxBatchBytes, timeoutMs: this.options.connectTimeoutMs ?? this.options.timeoutMs ?? 10_000 }),
      lost: (error) => {
        // The daemon closing (or going away) ends both; only a channel lost under an open session is news.
        if (this.ws.readyState !== WebSocket.OPEN) { this.log.debug({ err: error, url: this.url }, 'data channel closed with its session'); return }
        this.log.warn({ err: error, url: this.url }, 'the data channel broke; closing the connection')
        this.channelLoss = new MemweaveError('net', 'disconnected', `connection to ${this.url} lost its data channel: ${error.message}`, { cause: error })
        this.ws.terminate()
      },
    })
    // Big read replies arrive as separate fragments; keeping them apart saves gluing (copying) them.
    ws.binaryType = 'fragments'
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary))
    ws.on('error', (err) => this.log.debug({ err, url }, 'connection error'))
    this.closedPromise = new Promise((resolve) => ws.once('close', (code, reason) => { this.onClosed(code, reason.toString()); resolve() }))
  }

  /** What the daemon said at hello: protocol version, node id, limits, node info. */
  get serverInfo(): ServerHello {
    if (this.hello === undefined) throw new MemweaveError('net', 'internal', 'serverInfo read before the handshake finished')
    return this.hello
  }

  /** Whether big reads come through the shared data ring (mapped: copied out of a mapping, not with preadv), and how much did. */
  get dataRing(): { readonly active: boolean; readonly mapped: boolean; readonly pieces: number; readonly bytes: number } {
    return { active: this.ring?.active === true, mapped: this.ring?.active === true && this.ring.mapped, pieces: this.ring?.stats.pieces ?? 0, bytes: this.ring?.stats.bytes ?? 0 }
  }

  /** Whether big reads come back on a TCP data channel, and how many frames and bytes did. */
  get dataChannel(): { readonly active: boolean; readonly frames: number; readonly bytes: number; readonly reads: number } {
    return { active: this.channel.isOpen && !this.closed, ...this.channel.stats }
  }

  /**
   * Opens the data channel now if the daemon offers one (otherwise the first big read starts it in the
   * background); true once it is open, false when there is none (refused, not offered, turned off).
   */
  openDataChannel(): Promise<boolean> {
    return this.channel.open()
  }

  /** What the data channel's next frame (a reply to `id`) should fill. */
  private expectOnChannel(id: number): ChannelExpectation | undefined {
    const live = this.pending.get(id)
    const pending = live ?? this.abandoned.get(id)
    if (pending?.lengths === undefined) return undefined
    if (live !== undefined) live.receiving = true
    return { lengths: pending.lengths, into: live?.into, discard: live === undefined }
  }

  get closed(): boolean {
    return this.closeReason !== undefined
  }

  /** Calls listener once when the connection ends (at once if it already has). Returns an unsubscribe. */
  onClose(listener: (reason: MemweaveError) => void): () => void {
    if (this.closeReason !== undefined) { listener(this.closeReason); return () => {} }
    this.closeListeners.add(listener)
    return () => this.closeListeners.delete(listener)
  }

  async handshake(options: ClientOptions, timeoutMs: number): Promise<void> {
    const ring = this.ring
    const hello = await this.call('hello', {
      version: PROTOCOL_VERSION,
      ...(options.token === undefined ? {} : { token: options.token }),
      client: { name: options.name ?? 'client', ...(options.chain === undefined ? {} : { chain: options.chain }) },
      ...(ring === undefined ? {} : { dataPath: ring.path, dataKey: ring.key }),
    }, timeoutMs, (reply) => {
      // Runs as the reply is handled, before any other request can go out (they read the ring's state).
      if (ring !== undefined && !ring.settle(reply.dataRing, this.url)) this.ring = undefined
    })
    if (hello.version.major !== PROTOCOL_VERSION.major) {
      throw new MemweaveError('net', 'version_mismatch',
        `protocol version mismatch: this client speaks ${formatVersion(PROTOCOL_VERSION)}, the daemon at ${this.url} speaks ${formatVersion(hello.version)}`)
    }
    this.hello = hello
    this.pump()
  }

  // `via`: the hop chain of a request a node forwards for someone else (tree/hop-context.ts carries it, src/node/peers/hop-rules.ts sets the rules).
  list(path: string, via?: readonly string[]): Promise<Entry[]> { return this.call('list', { path, ...viaField(via) }) }
  stat(path: string, via?: readonly string[]): Promise<Stat> { return this.call('stat', { path, ...viaField(via) }) }
  open(path: string, options: OpenOptions = {}, via?: readonly string[]): Promise<OpenResult> {
    if (options.exclusive !== true) return this.call('open', { path, ...viaField(via) })
    const minor = this.hello?.version.minor ?? PROTOCOL_VERSION.minor
    if (minor < EXCLUSIVE_MINOR) {
      return Promise.reject(new MemweaveError('net', 'unsupported', `exclusive open of '${path}': the daemon at ${this.url} speaks protocol 1.${minor}; exclusive opens need 1.${EXCLUSIVE_MINOR}`))
    }
    return this.call('open', { path, ...viaField(via), exclusive: true })
  }
  rpc(handle: number, request: unknown): Promise<unknown> { return this.call('rpc', { handle, request }) }
  /** Whole text/binary leaves by path in one request (1.5); a `*` segment stands for every name of its branch. */
  get(paths: readonly string[], maxBytes?: number): Promise<WireGetResult[]> {
    const minor = this.serverInfo.version.minor
    if (minor < GET_MINOR) return Promise.reject(new MemweaveError('net', 'unsupported', `get: the daemon at ${this.url} speaks protocol 1.${minor}; get needs 1.${GET_MINOR}`))
    return this.call('get', { paths, ...(maxBytes === undefined ? {} : { maxBytes }) })
  }
  async close(handle: number): Promise<void> { await this.call('close', { handle }) }
  async ping(): Promise<number> { return (await this.call('ping', {})).timeMs }
  /** A one-time ticket for a browser session with this connection's rights (protocol 1.2). */
  async ticket(): Promise<TicketGrant> { return this.call('ticket', {}) }

  async read(handle: number, pieces: readonly ReadPiece[]): Promise<PieceResult[]> {
    // Big pieces on the channel or the ring: chunked readInto into fresh memory (one buffer for the batch).
    if (this.channel.chunks(pieces) || this.ringChunks(pieces)) return readFresh((placed, target) => this.readInto(handle, placed, target), pieces)
    return runBatched('read', pieces, (p) => p.length, this.limits, (batch) => this.readBatch(handle, batch.pieces), (result) => toPieceResult(result))
  }

  async readInto(handle: number, pieces: readonly ReadIntoPiece[], target: Uint8Array): Promise<ReadIntoResult[]> {
    checkTarget(pieces, target)
    if (this.channel.chunks(pieces)) {
      // Pipelined: each chunk its own request on the channel, streaming back into its place.
      const chunked = chunkPieces(pieces, CHANNEL_REQUEST_BYTES)
      const results = await this.readIntoBatches(handle, chunked.chunks, target, { ...this.limits, maxBatchBytes: Math.min(this.limits.maxBatchBytes, CHANNEL_REQUEST_BYTES) })
      return mergeChunks(pieces.length, chunked, results)
    }
    if (this.ringChunks(pieces)) {
      const chunked = chunkPieces(pieces, RING_REQUEST_BYTES)
      return mergeChunks(pieces.length, chunked, await this.readIntoWindow(handle, chunked.chunks, target))
    }
    return this.readIntoBatches(handle, pieces, target, this.limits)
  }

  /**
   * Whether a read goes through the data ring in chunks: a piece bigger than one chunk, none too big for a request
   * (those keep their own too_large result).
   */
  private ringChunks(pieces: readonly ReadPiece[]): boolean {
    if (this.ring?.active !== true || !pieces.some((p) => p.length > RING_REQUEST_BYTES)) return false
    const max = this.limits.maxBatchBytes
    return pieces.every((p) => p.length <= max)
  }

  /**
   * Chunks through the ring, RING_WINDOW in flight: the daemon fills the next while this side copies one out, and
   * each new request tells the daemon what was copied out (the ring's consumed mark rides on read requests, so a
   * fixed window keeps the ring from filling with replies the daemon cannot know were taken).
   */
  private async readIntoWindow(handle: number, chunks: readonly ReadIntoPiece[], target: Uint8Array): Promise<ReadIntoResult[]> {
    const results: ReadIntoResult[] = []
    let next = 0
    let failed = false
    const worker = async (): Promise<void> => {
      while (next < chunks.length && !failed) {
        const index = next++
        try {
          const [result] = await this.readIntoBatches(handle, [chunks[index]!], target, this.limits)
          if (result === undefined) throw protocolError('a read of one piece got no result')
          results[index] = result
        } catch (err) {
          failed = true // the connection went, say: stop sending more
          throw err
        }
      }
    }
    // Every chunk in flight settles before the call does, so nothing lands in the caller's memory after it failed.
    const settled = await Promise.allSettled(Array.from({ length: Math.min(RING_WINDOW, chunks.length) }, worker))
    for (const outcome of settled) if (outcome.status === 'rejected') throw outcome.reason
    return results
  }

  private async readIntoBatches(handle: number, pieces: readonly ReadIntoPiece[], target: Uint8Array, limits: WireLimits): Promise<ReadIntoResult[]> {
    return runBatched('read', pieces, (p) => p.length, limits, (batch) => this.readBatch(handle, batch.pieces, (j) => {
      const p = batch.pieces[j]
      return p === undefined ? undefined : target.subarray(p.at, p.at + p.length)
    }), (result, j, batch) => placeResult(result, batch.pieces[j]!, target))
  }

  /** One read request (on the data channel when it is big enough); `into` places each piece of the reply. */
  private readBatch(handle: number, pieces: readonly ReadPiece[], into?: (index: number) => Uint8Array | undefined): Promise<WireReadResult[]> {
    const lengths = this.channel.lengths(pieces)
    return this.call('read', { handle, pieces: pieces.map((p) => ({ addr: p.addr, length: p.length })), ...(lengths === undefined ? {} : { channel: true }) },
      this.options.timeoutMs, undefined, into, lengths)
  }

  async write(handle: number, pieces: readonly WritePiece[]): Promise<WriteResult[]> {
    return runBatched('write', pieces, (p) => p.data.length, this.limits, (batch) => this.call('write', { handle, pieces: batch.pieces.map((p) => ({ addr: p.addr, data: p.data })) }),
      (result): WriteResult => ('error' in result ? { ok: false, error: fromWireError(result.error) } : { ok: true }))
  }

  async watch(path: string, listener: ChangeListener, via?: readonly string[]): Promise<() => Promise<void>> {
    // Registered while the reply is handled, so an event right behind it is not lost.
    const { watchId } = await this.call('watch', { path, ...viaField(via) }, this.options.timeoutMs, (r) => this.watchers.set(r.watchId, listener))
    return async () => {
      if (!this.watchers.delete(watchId) || this.closed) return
      await this.call('unwatch', { watchId })
    }
  }

  /** Cuts the connection at once, without a close handshake (a peer that stopped answering). */
  terminate(): void {
    this.ws.terminate()
  }

  async disconnect(): Promise<void> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(1000, 'client done')
    await this.closedPromise
  }

  private get limits(): WireLimits {
    return this.serverInfo.limits
  }

  private call<K extends Op>(op: K, body: RequestBodies[K], timeoutMs = this.options.timeoutMs, onResult?: (result: ResultBodies[K]) => void,
    into?: (index: number) => Uint8Array | undefined, lengths?: readonly number[]): Promise<ResultBodies[K]> {
    if (this.closeReason !== undefined) return Promise.reject(this.closeReason)
    const parse = RESULT_PARSERS[op]
    return new Promise<ResultBodies[K]>((resolve, reject) => {
      const pending: Pending = {
        op, reject, timer: undefined, start: undefined, into, lengths, receiving: false,
        resolve: (value) => resolve(parse(value)),
        onResult: onResult === undefined ? undefined : (value) => onResult(parse(value)),
      }
      pending.start = () => this.send(pending, { op, ...body })
      if (timeoutMs !== undefined) pending.timer = setTimeout(() => this.timeOut(pending, timeoutMs), timeoutMs)
      this.queue.push(pending)
      this.pump()
    })
  }

  /** Sends queued requests while there are free in-flight slots (one, the hello, before the handshake). */
  private pump(): void {
    const slots = this.hello === undefined ? 1 : this.hello.limits.maxInFlight
    while (this.inFlight < slots && this.queue.length > 0 && this.closeReason === undefined) {
      const next = this.queue.shift()
      const start = next?.start
      if (next === undefined || start === undefined) continue
      next.start = undefined
      start()
    }
  }

  private send(pending: Pending, message: Record<string, unknown>): void {
    const id = this.nextId++
    let encoded: Buffer
    try {
      // Each read tells the daemon how much of the ring is free again (the mark as of sending, not queueing).
      const consumed = pending.op === 'read' && this.ring?.active === true ? { consumed: this.ring.consumed } : {}
      encoded = encodeMessage({ id, ...message, ...consumed })
    } catch (err) {
      this.settle(pending, () => pending.reject(toMemweaveError(err, 'net', `cannot encode the ${pending.op} request`)))
      return
    }
    const max = this.hello?.limits.maxMessageBytes
    if (max !== undefined && encoded.length > max) {
      this.settle(pending, () => pending.reject(new MemweaveError('net', 'too_large', `${pending.op} request of ${encoded.length} bytes exceeds the daemon's limit of ${max}`)))
      return
    }
    this.inFlight++
    this.pending.set(id, pending)
    this.traffic.messagesOut++
    this.traffic.bytesOut += encoded.length
    this.ws.send(encoded, { binary: true })
  }

  private settle(pending: Pending, action: () => void): void {
    clearTimeout(pending.timer)
    action()
  }

  private timeOut(pending: Pending, timeoutMs: number): void {
    const error = new MemweaveError('net', 'timeout', `${pending.op} on ${this.url} timed out after ${timeoutMs} ms`)
    if (pending.receiving) {
      // Its bytes are being written into the caller's memory, and every later reply waits behind it: the channel is
      // stuck. Cutting the connection stops the writes at once (the socket is closed now), then the request fails.
      this.channelLoss = new MemweaveError('net', 'timeout', `the data channel to ${this.url} stalled in the middle of a reply (${pending.op} timed out after ${timeoutMs} ms)`)
      this.log.warn({ url: this.url, timeoutMs }, 'the data channel stalled mid-reply; closing the connection')
      this.channel.close()
      this.ws.terminate()
      return
    }
    if (pending.start !== undefined) {
      pending.start = undefined // still queued: it will be skipped
    } else {
      for (const [id, p] of this.pending) {
        if (p !== pending) continue
        this.pending.delete(id)
        this.abandoned.add(id, p)
      }
    }
    pending.reject(error)
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    this.traffic.messagesIn++
    this.traffic.bytesIn += Array.isArray(data) ? data.reduce((sum, part) => sum + part.length, 0) : data instanceof ArrayBuffer ? data.byteLength : data.length
    let message: ParsedServerMessage
    try {
      if (!isBinary) throw protocolError('the daemon sent a text frame')
      message = parseServerMessage(Array.isArray(data) ? decodeFragments(data) : decodeMessage(Buffer.isBuffer(data) ? data : Buffer.from(data)))
    } catch (err) {
      // Without an id there is nobody to fail but the connection itself.
      this.log.warn({ err, url: this.url }, 'malformed message from the daemon; disconnecting')
      this.ws.close(1002, 'malformed message')
      return
    }
    if (message.kind === 'event') {
      if (message.event.event === 'protocol-error') { this.log.warn({ error: message.event.error, url: this.url }, 'the daemon reports a protocol error'); return }
      if (message.event.event === 'progress' || message.event.event === 'stale') return // not asked for by this client (see hello)
      const listener = this.watchers.get(message.event.watchId)
      try {
        listener?.(message.event.path, message.event.via)
      } catch (err) {
        this.log.warn({ err }, 'watch listener failed')
      }
      return
    }
    const pending = this.pending.get(message.id)
    if (message.kind === 'result' && this.ring !== undefined && (pending ?? this.abandoned.get(message.id))?.op === 'read') {
      try {
        message = { ...message, result: this.ring.take(message.result, pending !== undefined, pending?.into) }
      } catch (err) {
        // The ring is out of step with the daemon: nothing read through it can be trusted any more.
        this.log.warn({ err, url: this.url }, 'bad data ring reply from the daemon; disconnecting')
        this.ws.close(1002, 'bad data ring reply')
        return
      }
    }
    this.complete(message)
  }

  /** A reply, from the WebSocket or the data channel, settles its request. */
  private complete(message: Exclude<ParsedServerMessage, { kind: 'event' }>): void {
    const pending = this.pending.get(message.id)
    if (pending === undefined) { this.lateReply(message.id, message.kind === 'result' ? message.result : undefined); return }
    this.pending.delete(message.id)
    this.inFlight--
    clearTimeout(pending.timer)
    if (message.kind === 'error') pending.reject(fromWireError(message.error))
    else {
      try {
        pending.onResult?.(message.result)
        pending.resolve(message.result)
      } catch (err) {
        pending.reject(toMemweaveError(err, 'net', `malformed ${pending.op} reply`))
      }
    }
    this.pump()
  }

  /** A reply to a request that timed out: give back what it took (a handle reference, a watch). */
  private lateReply(id: number, result: unknown): void {
    const op = this.abandoned.take(id)?.op
    if (op === undefined) { this.log.debug({ id }, 'reply to an unknown request'); return }
    this.inFlight--
    this.pump()
    if (result === undefined) return
    const giveBack = op === 'open' ? this.call('close', { handle: RESULT_PARSERS.open(result).handle })
      : op === 'watch' ? this.call('unwatch', { watchId: RESULT_PARSERS.watch(result).watchId }) : undefined
    giveBack?.catch((err: unknown) => this.log.debug({ err }, 'could not give back what a timed-out request took'))
  }

  private onClosed(code: number, reason: string): void {
    const error = this.channelLoss ?? new MemweaveError('net', 'disconnected', `connection to ${this.url} closed (${code}${reason === '' ? '' : `: ${reason}`})`)
    this.closeReason = error
    this.ring?.close()
    this.channel.close()
    for (const pending of [...this.pending.values(), ...this.queue]) this.settle(pending, () => pending.reject(error))
    this.pending.clear()
    this.queue.length = 0
    this.abandoned.clear()
    this.watchers.clear()
    for (const listener of this.closeListeners) {
      try {
        listener(error)
      } catch (err) {
        this.log.warn({ err }, 'close listener failed')
      }
    }
    this.closeListeners.clear()
  }
}
