/**
 * The page's protocol client: the same msgpack-over-WebSocket protocol every
 * client speaks (types from src/net), pipelined requests with ids, events
 * (change, progress by request id, stale handles), and `cancel`. Reads are
 * split to the daemon's limits from hello. No private API: whatever the page
 * can do, the CLI can do with the same session's rights.
 */
import type {
  Entry, ObjectEvent, Op, OpenResult, ProgressEvent, RequestBodies, ResultBodies, ServerHello, Stat, StaleEvent, WireError, WireLimits, WireReadPiece, WireReadResult,
} from '../../../net/index.js'
import { decode, encode } from './wire-codec.js'
/** The protocol version this page speaks (1.2: tickets, progress, cancel, stale events; 1.4: appeared/gone; 1.5: get). */
const VERSION = { major: 1, minor: 5 }

/** What a watch hears: a branch changed (list it again), or (watches with objects) one object appeared or went. */
export type WatchEvent =
  | { readonly event: 'change'; readonly path: string }
  | { readonly event: 'appeared' | 'gone'; readonly path: string; readonly object: ObjectEvent['object'] }

export class ProtocolError extends Error {
  constructor(readonly code: number, message: string) {
    super(message)
  }

  /** The error kinds (code % 1000) the page treats specially. */
  get stale(): boolean { return /stale/i.test(this.message) }
}

interface Pending {
  resolve(value: unknown): void
  reject(error: Error): void
  onProgress?: (event: ProgressEvent) => void
}

export type ReadOutcome = { ok: true; data: Uint8Array } | { ok: false; error: WireError }

export class PageClient {
  private readonly pending = new Map<number, Pending>()
  private nextId = 1
  private hello: ServerHello | undefined
  private readonly staleListeners = new Set<(event: StaleEvent) => void>()
  private readonly changeListeners = new Map<number, (event: WatchEvent) => void>()
  private readonly closeListeners = new Set<(reason: string) => void>()
  closedReason: string | undefined
  /** Requests sent and not answered; beyond the daemon's maxInFlight the rest wait here, in order. */
  private inFlight = 0
  private readonly waiting: Array<() => void> = []
  /** Bytes and requests, for the status bar. */
  readonly traffic = { requests: 0, bytesIn: 0 }

  private constructor(private readonly ws: WebSocket) {
    ws.binaryType = 'arraybuffer'
    ws.addEventListener('message', (event) => this.onMessage(event))
    ws.addEventListener('close', (event) => this.onClose(event.reason === '' ? `connection closed (${event.code})` : event.reason))
  }

  /** Opens the WebSocket to the daemon this page came from and says hello with the ticket (once). */
  static async connect(url: string, ticket: string): Promise<PageClient> {
    const ws = new WebSocket(url)
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener('open', () => resolve(), { once: true })
      ws.addEventListener('close', (e) => reject(new Error(e.reason === '' ? 'the daemon refused the connection' : e.reason)), { once: true })
    })
    document.documentElement.dataset['openMs'] = String(Math.round(performance.now()))
    const client = new PageClient(ws)
    client.hello = await client.call('hello', { version: VERSION, ticket, client: { name: 'web' } })
    return client
  }

  get serverInfo(): ServerHello {
    if (this.hello === undefined) throw new Error('no hello yet')
    return this.hello
  }

  get limits(): WireLimits { return this.serverInfo.limits }

  call<K extends Op>(op: K, body: RequestBodies[K], onProgress?: (event: ProgressEvent) => void): Promise<ResultBodies[K]> {
    return this.start(op, body, onProgress).promise
  }

  /** Starts a request and gives its id too (for cancel). */
  start<K extends Op>(op: K, body: RequestBodies[K], onProgress?: (event: ProgressEvent) => void): { id: number; promise: Promise<ResultBodies[K]> } {
    const id = this.nextId++
    const promise = new Promise<ResultBodies[K]>((resolve, reject) => {
      if (this.closedReason !== undefined) { reject(new Error(this.closedReason)); return }
      // The server's reply for op K is ResultBodies[K]; the protocol, not this cast, guarantees it.
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject, ...(onProgress === undefined ? {} : { onProgress }) })
      const send = (): void => {
        if (this.closedReason !== undefined) return
        this.inFlight++
        this.traffic.requests++
        this.ws.send(encode({ id, op, ...body }))
      }
      // hello and cancel never wait (cancel must overtake the queue it is about).
      if (op === 'hello' || op === 'cancel' || this.hello === undefined || this.inFlight < this.hello.limits.maxInFlight) send()
      else this.waiting.push(send)
    })
    return { id, promise }
  }

  cancel(target: number): void {
    if (this.closedReason === undefined) void this.call('cancel', { target }).catch(() => undefined)
  }

  list(path: string): Promise<Entry[]> { return this.call('list', { path }) }
  stat(path: string): Promise<Stat> { return this.call('stat', { path }) }
  open(path: string): Promise<OpenResult> { return this.call('open', { path }) }
  close(handle: number): Promise<null> { return this.call('close', { handle }) }
  /** Whole text leaves by path in one request (`*` for every name of a branch): path → text, or the error. */
  async get(paths: readonly string[]): Promise<Array<{ path: string; text: string } | { path: string; error: WireError }>> {
    const decoder = new TextDecoder()
    return (await this.call('get', { paths })).map((r) => ('data' in r ? { path: r.path, text: decoder.decode(r.data) } : r))
  }
  rpc(handle: number, request: unknown, onProgress?: (event: ProgressEvent) => void): Promise<unknown> { return this.call('rpc', { handle, request }, onProgress) }

  /** Reads pieces, split into batches within the daemon's limits; one outcome per piece. */
  async read(handle: number, pieces: readonly WireReadPiece[]): Promise<ReadOutcome[]> {
    const { maxPieces, maxBatchBytes } = this.limits
    const batches: WireReadPiece[][] = []
    let batch: WireReadPiece[] = []
    let bytes = 0
    for (const piece of pieces) {
      if (batch.length > 0 && (batch.length >= maxPieces || bytes + piece.length > maxBatchBytes)) { batches.push(batch); batch = []; bytes = 0 }
      batch.push(piece)
      bytes += piece.length
    }
    if (batch.length > 0) batches.push(batch)
    const results = await Promise.all(batches.map((b) => this.call('read', { handle, pieces: b })))
    return results.flat().map((r: WireReadResult): ReadOutcome => ('data' in r ? { ok: true, data: r.data } : 'error' in r ? { ok: false, error: r.error } : { ok: false, error: { code: 0, message: 'ring replies are for unix clients' } }))
  }

  /**
   * Reads a whole text leaf (open, read to the end, close). The close is sent at once but not waited
   * for: the text is ready after two round trips, not three (a failed close only leaves a handle the
   * daemon drops with the session).
   */
  async readText(path: string): Promise<string> {
    const opened = await this.open(path)
    try {
      const length = Number(opened.sizeBytes ?? 1n << 24n)
      const [result] = await this.read(opened.handle, [{ addr: 0n, length: Math.min(length, this.limits.maxBatchBytes) }])
      if (result === undefined || !result.ok) throw new ProtocolError(result?.ok === false ? result.error.code : 0, result?.ok === false ? result.error.message : 'no result')
      return new TextDecoder().decode(result.data)
    } finally {
      void this.close(opened.handle).catch(() => null)
    }
  }

  /** objects: also hear which objects appeared or went (a live OS's processes), instead of the change they explain. */
  async watch(path: string, listener: (event: WatchEvent) => void, objects = false): Promise<() => void> {
    const { watchId } = await this.call('watch', { path, ...(objects ? { objects } : {}) })
    this.changeListeners.set(watchId, listener)
    return () => { this.changeListeners.delete(watchId); void this.call('unwatch', { watchId }).catch(() => null) }
  }

  onStale(listener: (event: StaleEvent) => void): () => void {
    this.staleListeners.add(listener)
    return () => this.staleListeners.delete(listener)
  }

  onClosed(listener: (reason: string) => void): () => void {
    this.closeListeners.add(listener)
    return () => this.closeListeners.delete(listener)
  }

  disconnect(): void { this.ws.close(1000, 'page closed') }

  private onMessage(event: MessageEvent): void {
    if (!(event.data instanceof ArrayBuffer)) return
    this.traffic.bytesIn += event.data.byteLength
    const message: unknown = decode(new Uint8Array(event.data))
    if (typeof message !== 'object' || message === null) return
    if ('event' in message) { this.onEvent(message); return }
    if (!('id' in message) || typeof message.id !== 'number') return
    const pending = this.pending.get(message.id)
    if (pending === undefined) return
    this.pending.delete(message.id)
    this.inFlight--
    this.waiting.shift()?.()
    if ('error' in message && typeof message.error === 'object' && message.error !== null) {
      const error = message.error as Partial<WireError>
      pending.reject(new ProtocolError(error.code ?? 0, error.message ?? 'request failed'))
    } else {
      pending.resolve('result' in message ? message.result : undefined)
    }
  }

  private onEvent(message: object): void {
    const event = 'event' in message ? message.event : undefined
    if (event === 'progress' && 'id' in message && typeof message.id === 'number') {
      this.pending.get(message.id)?.onProgress?.(message as ProgressEvent)
    } else if (event === 'stale' && 'handle' in message) {
      for (const listener of this.staleListeners) listener(message as StaleEvent)
    } else if (event === 'change' && 'watchId' in message && typeof message.watchId === 'number' && 'path' in message && typeof message.path === 'string') {
      this.changeListeners.get(message.watchId)?.({ event: 'change', path: message.path })
    } else if ((event === 'appeared' || event === 'gone') && 'watchId' in message && typeof message.watchId === 'number' && 'path' in message && typeof message.path === 'string'
      && 'object' in message && typeof message.object === 'object' && message.object !== null) {
      this.changeListeners.get(message.watchId)?.({ event, path: message.path, object: message.object as ObjectEvent['object'] })
    }
  }

  private onClose(reason: string): void {
    this.closedReason = reason
    for (const pending of this.pending.values()) pending.reject(new Error(reason))
    this.pending.clear()
    for (const listener of this.closeListeners) listener(reason)
  }
}
