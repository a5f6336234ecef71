/**
 * The client's side of a TCP data channel (data-channel.ts): it dials the
 * daemon's listener again, trades the one-time ticket in an HTTP Upgrade,
 * then reads reply frames. On plain TCP the kernel reads each piece's bytes
 * straight into the memory that waits for them (Node's `onread` with a
 * buffer chosen per read: the caller's readInto target, else a fresh buffer
 * per piece): no reassembly buffer, no copy in JavaScript. Over TLS the
 * decrypted chunks are copied there once. Anything that does not fit what
 * was asked (unknown request id, lengths beyond the request, bad magic)
 * breaks the channel with the reason; the session then ends with it.
 *
 *   dial ─▶ GET /memweave/data + ticket ─▶ 101 ─▶ [head][meta][bytes]… ─▶ deliver(id, results)
 */
import { connect } from 'node:net'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { MemweaveError, toMemweaveError } from '../errors/index.js'
import type { ClientLog } from './client-log.js'
import { decodeMessage } from './codec.js'
import { CHANNEL_HEADER_BYTES, CHANNEL_MAGIC, CHANNEL_PATH, CHANNEL_TICKET_HEADER, CHANNEL_UPGRADE } from './data-channel.js'
import { isFields, protocolError } from './field-guards.js'
import type { WireReadResult } from './messages.js'
import { parseWireError } from './reply-guards.js'

/** How to reach the listener again: plain TCP (read with onread), or a TLS socket made like the WebSocket's. */
export type ChannelDial =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number; readonly hostHeader: string }
  | { readonly kind: 'tls'; readonly connect: () => Duplex; readonly hostHeader: string }

/** What the session expects for one channel read. */
export interface ChannelExpectation {
  /** The requested length of each piece. */
  readonly lengths: readonly number[]
  /** Where piece `index` goes (readInto); undefined: a fresh buffer. */
  readonly into: ((index: number) => Uint8Array | undefined) | undefined
  /** Nobody waits any more (timed out): the bytes are read and dropped. */
  readonly discard: boolean
}

/** The session's side: which requests went to the channel, and where their replies go. */
export interface ChannelReplies {
  /** The read `id` the next frame answers, or undefined when no such read went to the channel. */
  expect(id: number): ChannelExpectation | undefined
  deliver(id: number, results: WireReadResult[], frameBytes: number): void
}

/** Where one piece's bytes go: its memory, or nowhere (dropped) when nobody waits. */
interface Dest { readonly into: Uint8Array | undefined; readonly length: number }

interface Frame {
  readonly id: number
  readonly results: WireReadResult[]
  readonly dests: Dest[]
  readonly bytes: number
  piece: number
  got: number
}

const HANDSHAKE_BYTES = 4096
const DISCARD_BYTES = 64 * 1024
/** Meta holds a length or a short error per piece. */
const MAX_META_BYTES = 16 * 1024 * 1024
const EMPTY = new Uint8Array(0)

/**
 * Parses what the daemon sends on the channel, from the 101 answer on; `want()` is where the next bytes go.
 * @internal Exported for its unit test.
 */
export class ChannelReader {
  private phase: 'http' | 'head' | 'meta' | 'data' | 'broken' = 'http'
  private readonly http = Buffer.allocUnsafe(HANDSHAKE_BYTES)
  private readonly head = Buffer.allocUnsafe(CHANNEL_HEADER_BYTES)
  private readonly discard = Buffer.allocUnsafe(DISCARD_BYTES)
  private got = 0
  private meta = Buffer.alloc(0)
  private frame: Frame | undefined
  private metaFor: { id: number; dataBytes: number; expected: ChannelExpectation } | undefined

  constructor(private readonly replies: ChannelReplies, private readonly maxDataBytes: number, private readonly upgraded: () => void) {}

  /** The answer so far, while still in the handshake (a refusal's status and reason). */
  get handshakeText(): string {
    return this.http.subarray(0, this.got).toString('latin1')
  }

  get open(): boolean {
    return this.phase !== 'http' && this.phase !== 'broken'
  }

  want(): Uint8Array {
    switch (this.phase) {
      case 'http': return this.got < HANDSHAKE_BYTES ? this.http.subarray(this.got) : this.discard.subarray(0, 1)
      case 'head': return this.head.subarray(this.got)
      case 'meta': return this.meta.subarray(this.got)
      case 'data': {
        const frame = this.frame
        const dest = frame?.dests[frame.piece]
        if (frame === undefined || dest === undefined) return this.head
        return dest.into === undefined ? this.discard.subarray(0, Math.min(DISCARD_BYTES, dest.length - frame.got)) : dest.into.subarray(frame.got)
      }
      case 'broken': return this.discard
    }
  }

  /** `n` bytes were written into the last `want()`. Throws a protocol error for anything out of line. */
  advance(n: number): void {
    if (this.phase === 'broken') return
    this.got += n
    switch (this.phase) {
      case 'http': this.answered(); return
      case 'head': if (this.got === CHANNEL_HEADER_BYTES) this.startFrame(); return
      case 'meta': if (this.got === this.meta.length) this.readMeta(); return
      case 'data': this.moved(n); return
    }
  }

  /** Copies a chunk in (TLS, where the bytes arrive decrypted in Node's memory). */
  feed(chunk: Uint8Array): void {
    let at = 0
    while (at < chunk.length && this.phase !== 'broken') {
      const into = this.want()
      const n = Math.min(into.length, chunk.length - at)
      into.set(chunk.subarray(at, at + n))
      at += n
      this.advance(n)
    }
  }

  fail(): void {
    this.phase = 'broken'
  }

  private answered(): void {
    const text = this.http.subarray(0, this.got).toString('latin1')
    const end = text.indexOf('\r\n\r\n')
    if (end < 0 || !text.startsWith('HTTP/1.1 101 ')) return // a refusal: its text is read to the end, then reported
    if (end + 4 !== this.got) throw protocolError('the daemon sent data on the channel before any was asked for')
    if (!new RegExp(`\\r\\nupgrade: *${CHANNEL_UPGRADE}\\r\\n`, 'i').test(text.slice(0, end + 2))) throw protocolError(`the daemon's answer does not upgrade to ${CHANNEL_UPGRADE}`)
    this.phase = 'head'
    this.got = 0
    this.upgraded()
  }

  private startFrame(): void {
    const head = this.head
    if (head.readUInt32LE(0) !== CHANNEL_MAGIC) throw protocolError('a data channel frame does not start with its magic')
    const id = head.readUInt32LE(4)
    const metaBytes = head.readUInt32LE(8)
    const dataBytes = head.readUInt32LE(12)
    if (metaBytes === 0 || metaBytes > MAX_META_BYTES) throw protocolError(`a data channel frame announces ${metaBytes} bytes of meta`)
    if (dataBytes > this.maxDataBytes) throw protocolError(`a data channel frame announces ${dataBytes} bytes, more than a read may ask (${this.maxDataBytes})`)
    const expected = this.replies.expect(id)
    if (expected === undefined) throw protocolError(`a data channel frame answers request ${id}, which asked for no reply there`)
    this.metaFor = { id, dataBytes, expected }
    this.meta = Buffer.allocUnsafe(metaBytes)
    this.phase = 'meta'
    this.got = 0
  }

  private readMeta(): void {
    const { id, dataBytes, expected } = this.metaFor ?? { id: 0, dataBytes: 0, expected: undefined }
    if (expected === undefined) throw protocolError('data channel meta without a header')
    const entries = decodeMessage(this.meta)
    if (!Array.isArray(entries) || entries.length !== expected.lengths.length) throw protocolError(`the data channel reply to request ${id} does not have one entry per piece`)
    const results: WireReadResult[] = []
    const dests: Dest[] = []
    let sum = 0
    entries.forEach((entry: unknown, i) => {
      const asked = expected.lengths[i] ?? 0
      if (typeof entry === 'number') {
        if (!Number.isSafeInteger(entry) || entry < 0 || entry > asked) throw protocolError(`the data channel reply to request ${id} gives piece ${i} ${entry} bytes of ${asked} asked`)
        sum += entry
        if (entry === 0 || expected.discard) {
          results.push({ data: EMPTY })
          if (entry > 0) dests.push({ into: undefined, length: entry })
          return
        }
        const wanted = expected.into?.(i)
        const into = wanted !== undefined && wanted.length >= entry ? wanted.subarray(0, entry) : Buffer.allocUnsafeSlow(entry)
        results.push({ data: into })
        dests.push({ into, length: entry })
        return
      }
      if (isFields(entry) && Object.hasOwn(entry, 'error')) { results.push({ error: parseWireError(entry.error) }); return }
      throw protocolError(`the data channel reply to request ${id} has a malformed entry for piece ${i}`)
    })
    if (sum !== dataBytes) throw protocolError(`the data channel reply to request ${id} announces ${dataBytes} bytes but its pieces hold ${sum}`)
    this.metaFor = undefined
    this.frame = { id, results, dests, bytes: CHANNEL_HEADER_BYTES + this.meta.length + dataBytes, piece: 0, got: 0 }
    this.phase = 'data'
    this.got = 0
    if (dests.length === 0) this.finish()
  }

  private moved(n: number): void {
    const frame = this.frame
    if (frame === undefined) throw protocolError('data channel bytes outside a frame')
    frame.got += n
    this.got = 0
    while (frame.piece < frame.dests.length && frame.got >= (frame.dests[frame.piece]?.length ?? 0)) {
      frame.piece++
      frame.got = 0
    }
    if (frame.piece === frame.dests.length) this.finish()
  }

  private finish(): void {
    const frame = this.frame
    this.frame = undefined
    this.phase = 'head'
    this.got = 0
    if (frame !== undefined) this.replies.deliver(frame.id, frame.results, frame.bytes)
  }
}

/** An open data channel: frames are delivered to the session as they complete. */
export class ClientDataChannel {
  private lost: ((error: MemweaveError) => void) | undefined
  private closedByUs = false
  /** Frames and bytes received, and the socket reads (or TLS chunks) that brought them. */
  readonly stats = { frames: 0, bytes: 0, reads: 0 }

  private constructor(private readonly socket: Duplex, private readonly reader: ChannelReader, readonly where: string) {}

  /**
   * Dials, trades the ticket and waits for the upgrade; refused, it rejects with the daemon's reason.
   * `maxDataBytes`: the most one reply may hold (the daemon's batch limit).
   */
  static open(dial: ChannelDial, ticket: string, replies: ChannelReplies, options: { maxDataBytes: number; timeoutMs: number; where: string; log: ClientLog }): Promise<ClientDataChannel> {
    return new Promise((resolve, reject) => {
      let settled = false
      let broken: MemweaveError | undefined
      const counted: ChannelReplies = {
        expect: (id) => replies.expect(id),
        deliver: (id, results, bytes) => { channel.stats.frames++; channel.stats.bytes += bytes; replies.deliver(id, results, bytes) },
      }
      const reader = new ChannelReader(counted, options.maxDataBytes, () => { settled = true; clearTimeout(timer); resolve(channel) })
      const take = (work: () => void): boolean => {
        try {
          work()
          return true
        } catch (err) {
          broken = toMemweaveError(err, 'net', 'bad data channel frame')
          options.log.warn({ err: broken, where: options.where }, 'bad frame on the data channel; closing it')
          reader.fail()
          socket.destroy()
          return false
        }
      }
      const socket: Duplex = dial.kind === 'tcp'
        ? connect({ host: dial.host, port: dial.port, onread: { buffer: () => reader.want(), callback: (n: number) => { channel.stats.reads++; return take(() => reader.advance(n)) } } })
        : dial.connect()
      const channel = new ClientDataChannel(socket, reader, options.where)
      const timer = setTimeout(() => {
        broken = new MemweaveError('net', 'timeout', `opening a data channel to ${options.where} timed out after ${options.timeoutMs} ms`)
        socket.destroy()
      }, options.timeoutMs)
      const request = `GET ${CHANNEL_PATH} HTTP/1.1\r\nHost: ${dial.hostHeader}\r\nConnection: Upgrade\r\nUpgrade: ${CHANNEL_UPGRADE}\r\n${CHANNEL_TICKET_HEADER}: ${ticket}\r\n\r\n`
      if (dial.kind === 'tcp') {
        (socket as Socket).setNoDelay(true)
        socket.write(request)
      } else {
        socket.on('data', (chunk: Buffer) => { channel.stats.reads++; take(() => reader.feed(chunk)) })
        // Only once the certificate was checked (verifiedTlsSocket's own listener runs first): the ticket goes to no one else.
        socket.once('secureConnect', () => { if (!socket.destroyed) socket.write(request) })
      }
      socket.on('error', (err) => { broken ??= toMemweaveError(err, 'net', `data channel to ${options.where} failed`) })
      socket.once('close', () => {
        clearTimeout(timer)
        const error = broken ?? channel.closeReason()
        if (!settled) { settled = true; reject(error); return }
        if (!channel.closedByUs) channel.lost?.(error)
      })
    })
  }

  /** Called once if the channel breaks or the daemon closes it (not after close()). */
  onLost(listener: (error: MemweaveError) => void): void {
    this.lost = listener
  }

  close(): void {
    this.closedByUs = true
    this.socket.destroy()
  }

  private closeReason(): MemweaveError {
    if (!this.reader.open) {
      const answer = this.reader.handshakeText
      const status = /^HTTP\/1\.1 (\d{3})[^\r\n]*\r\n/.exec(answer)
      const reason = answer.split('\r\n\r\n')[1]?.trim()
      if (status !== null) {
        const kind = status[1] === '403' ? 'unauthorized' : 'protocol'
        return new MemweaveError('net', kind, `${this.where} refused the data channel (HTTP ${status[1]}${reason === undefined || reason === '' ? '' : `: ${reason}`})`)
      }
    }
    return new MemweaveError('net', 'disconnected', `the data channel to ${this.where} closed`)
  }
}
