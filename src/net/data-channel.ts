/**
 * The TCP data channel both sides agree on (protocol 1.6): a second
 * connection beside a TCP client's WebSocket that carries big read replies
 * as raw bytes, so one hop costs one network copy (no WebSocket framing,
 * no msgpack around the data, no reassembly on the client).
 *
 *   client ══ ws ══▶ {op:'channel'}          ◀── {ticket, expiresInMs}      (one-time, this session only)
 *   client ── GET /memweave/data, Upgrade: memweave-data, Memweave-Channel-Ticket: T ──▶ same listener
 *          ◀── 101 Switching Protocols                                     (or 4xx and the reason)
 *   client ══ ws ══▶ {op:'read', …, channel:true}
 *          ◀── channel: [header 16 bytes][meta: msgpack per-piece lengths or errors][piece bytes, in order]
 *
 * Header (little-endian u32s): MAGIC, request id, meta bytes, data bytes.
 * Meta: one msgpack array, an entry per requested piece: the number of
 * bytes that piece got (0..its length), or `{error: {code, message}}`.
 * The data bytes are the successful pieces' bytes back to back. The channel
 * carries only the daemon's replies; the client never writes to it.
 */
import { encodeMessage, toWireError } from './codec.js'
import type { ReadIntoResult } from '../mem/index.js'

/** The HTTP Upgrade token and the request path of a data channel. */
export const CHANNEL_UPGRADE = 'memweave-data'
export const CHANNEL_PATH = '/memweave/data'
/** The header naming the one-time ticket (never in the URL, so no log shows it). */
export const CHANNEL_TICKET_HEADER = 'memweave-channel-ticket'
/** 'MWD1' */
export const CHANNEL_MAGIC = 0x3144574d
export const CHANNEL_HEADER_BYTES = 16
/** The client sends a read over the channel when its batch asks for at least this many bytes. */
export const CHANNEL_MIN_READ_BYTES = 64 * 1024
/** A read with bigger pieces goes to the channel as requests of at most this many bytes each, pipelined. */
export const CHANNEL_REQUEST_BYTES = 1024 * 1024
/** How long a channel ticket waits to be redeemed. */
export const CHANNEL_TICKET_MS = 10_000

/** One reply frame's head: the fixed header and the meta, ready to go before the piece bytes. */
export function encodeChannelHead(id: number, results: readonly ReadIntoResult[]): { head: Buffer; dataBytes: number } {
  let dataBytes = 0
  const meta = encodeMessage(results.map((r) => {
    if (!r.ok) return { error: toWireError(r.error) }
    dataBytes += r.length
    return r.length
  }))
  const head = Buffer.allocUnsafe(CHANNEL_HEADER_BYTES + meta.length)
  head.writeUInt32LE(CHANNEL_MAGIC, 0)
  head.writeUInt32LE(id, 4)
  head.writeUInt32LE(meta.length, 8)
  head.writeUInt32LE(dataBytes, 12)
  head.set(meta, CHANNEL_HEADER_BYTES)
  return { head, dataBytes }
}
