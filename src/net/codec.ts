/**
 * msgpack encoding for the protocol. One Packr configuration for both sides:
 * plain maps (no record extension, so any msgpack decoder can read us),
 * bigints as 64-bit integers and back (addresses round-trip exactly; the
 * rare bigger one, such as a 2^64 extent, uses msgpackr's bigint extension
 * 0x42 rather than losing precision), bytes as `bin`. Read replies with big pieces are encoded as a list of parts so
 * the data buffers go to the socket without being copied.
 */
import { Packr } from 'msgpackr'
import { MemweaveError, toMemweaveError } from '../errors/index.js'
import type { PieceResult } from '../mem/index.js'
import type { WireError } from './messages.js'

const packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'bigint', useBigIntExtension: true })

/** Pieces at least this big travel as their own WebSocket fragment instead of being copied into the envelope. */
export const ZERO_COPY_MIN_BYTES = 64 * 1024

export function encodeMessage(value: unknown): Buffer {
  try {
    return packr.pack(value)
  } catch (err) {
    throw new MemweaveError('net', 'internal', 'message cannot be encoded as msgpack', { cause: err })
  }
}

/** Decodes exactly one msgpack value; garbage, truncation and trailing bytes are 'malformed'. */
export function decodeMessage(bytes: Uint8Array): unknown {
  let values: unknown[]
  try {
    values = packr.unpackMultiple(bytes)
  } catch (err) {
    // msgpackr's text names the bad token only; its error object also carries the values decoded so far
    // (possibly a token or memory), so the cause keeps the text alone.
    const detail = err instanceof Error ? err.message : String(err)
    throw new MemweaveError('net', 'malformed', `frame of ${bytes.length} bytes is not valid msgpack (${detail})`, { cause: new Error(detail) })
  }
  if (values.length !== 1) throw new MemweaveError('net', 'malformed', `frame holds ${values.length} msgpack values, expected exactly one`)
  return values[0]
}

const PLACEHOLDER_PREFIX = '\0memweave-fragment:'

/**
 * Decodes a message that arrived as several WebSocket fragments without
 * first gluing the big ones together: a fragment that is exactly the
 * payload of the `bin` announced at the end of the fragment before it (how
 * encodeReadReply sends big pieces) is swapped for a placeholder string,
 * the small rest is decoded, and each `data` placeholder gets its fragment
 * back. Anything else falls back to decoding the concatenation.
 */
export function decodeFragments(fragments: readonly Buffer[]): unknown {
  if (fragments.length === 1 && fragments[0] !== undefined) return decodeMessage(fragments[0])
  const small: Buffer[] = []
  const raw: Buffer[] = []
  for (const fragment of fragments) {
    const before = small[small.length - 1]
    const n = before?.length ?? 0
    if (before !== undefined && fragment.length >= ZERO_COPY_MIN_BYTES && n >= 5 && before[n - 5] === 0xc6 && before.readUInt32BE(n - 4) === fragment.length) {
      small[small.length - 1] = before.subarray(0, n - 5)
      small.push(packr.pack(`${PLACEHOLDER_PREFIX}${raw.length}`))
      raw.push(fragment)
    } else {
      small.push(fragment)
    }
  }
  if (raw.length === 0) return decodeMessage(Buffer.concat(fragments))
  try {
    const value = decodeMessage(Buffer.concat(small))
    if (restorePlaceholders(value, raw)) return value
  } catch (err) {
    // Not the shape we produce after all; the plain way below decides.
    if (!(err instanceof MemweaveError)) throw err
  }
  return decodeMessage(Buffer.concat(fragments))
}

/** Puts raw fragments back where `{data: placeholder}` stands in a read reply; false unless every one fits. */
function restorePlaceholders(value: unknown, raw: readonly Buffer[]): boolean {
  if (typeof value !== 'object' || value === null || !('result' in value) || !Array.isArray(value.result)) return false
  let restored = 0
  for (const piece of value.result) {
    if (typeof piece !== 'object' || piece === null || !('data' in piece) || typeof piece.data !== 'string' || !piece.data.startsWith(PLACEHOLDER_PREFIX)) continue
    const fragment = raw[Number(piece.data.slice(PLACEHOLDER_PREFIX.length))]
    if (fragment === undefined || Number(piece.data.slice(PLACEHOLDER_PREFIX.length)) !== restored) return false
    piece.data = fragment
    restored++
  }
  return restored === raw.length
}

export function toWireError(err: unknown, context = 'request failed'): WireError {
  const error = toMemweaveError(err, 'net', context)
  return { code: error.code, message: error.message }
}

export function fromWireError(error: WireError): MemweaveError {
  return MemweaveError.fromCode(error.code, error.message)
}

const FIXMAP_1 = 0x81
const FIXMAP_2 = 0x82
const KEY_ID = Buffer.from([0xa2, ...Buffer.from('id')])
const KEY_RESULT = Buffer.from([0xa6, ...Buffer.from('result')])
const KEY_DATA = Buffer.from([0xa4, ...Buffer.from('data')])
const KEY_ERROR = Buffer.from([0xa5, ...Buffer.from('error')])
const KEY_RING = Buffer.from([0xa4, ...Buffer.from('ring')])
const KEY_LENGTH = Buffer.from([0xa6, ...Buffer.from('length')])
/** `{ring, length}` with both as uint32 at most. */
const RING_PIECE_BYTES = 1 + KEY_RING.length + 5 + KEY_LENGTH.length + 5

function binHeaderBytes(length: number): number {
  return length < 0x100 ? 2 : length < 0x10000 ? 3 : 5
}

function arrayHeaderBytes(count: number): number {
  return count < 16 ? 1 : count < 0x10000 ? 3 : 5
}

/**
 * Encodes `{id, result: [{data} | {ring, length} | {error}, …]}` as standard
 * msgpack, but returns parts: small fields are copied into shared scratch
 * buffers, pieces of ZERO_COPY_MIN_BYTES or more are passed through as they
 * are. Concatenated, the parts are one ordinary msgpack value. A piece with a
 * ring position (`ringPositions[i]`) was already written to the data ring and
 * travels as its position.
 */
export function encodeReadReply(id: number, results: readonly PieceResult[], ringPositions?: readonly (number | undefined)[]): Buffer[] {
  const idBytes = packr.pack(id)
  const errors = results.map((r) => (r.ok ? undefined : packr.pack(toWireError(r.error))))
  let small = 1 + KEY_ID.length + idBytes.length + KEY_RESULT.length + arrayHeaderBytes(results.length)
  results.forEach((r, i) => {
    if (!r.ok) { small += 1 + KEY_ERROR.length + (errors[i]?.length ?? 0); return }
    if (ringPositions?.[i] !== undefined) { small += RING_PIECE_BYTES; return }
    small += 1 + KEY_DATA.length + binHeaderBytes(r.data.length) + (r.data.length >= ZERO_COPY_MIN_BYTES ? 0 : r.data.length)
  })
  const scratch = Buffer.allocUnsafe(small)
  const parts: Buffer[] = []
  let offset = 0
  let cut = 0
  const put = (bytes: Uint8Array): void => { scratch.set(bytes, offset); offset += bytes.length }
  scratch[offset++] = FIXMAP_2
  put(KEY_ID)
  put(idBytes)
  put(KEY_RESULT)
  offset = writeArrayHeader(scratch, offset, results.length)
  results.forEach((r, i) => {
    const position = r.ok ? ringPositions?.[i] : undefined
    scratch[offset++] = position === undefined ? FIXMAP_1 : FIXMAP_2
    if (!r.ok) { put(KEY_ERROR); put(errors[i] ?? Buffer.alloc(0)); return }
    if (position !== undefined) {
      put(KEY_RING)
      offset = writeUint32(scratch, offset, position)
      put(KEY_LENGTH)
      offset = writeUint32(scratch, offset, r.data.length)
      return
    }
    put(KEY_DATA)
    offset = writeBinHeader(scratch, offset, r.data.length)
    if (r.data.length < ZERO_COPY_MIN_BYTES) { put(r.data); return }
    if (offset > cut) parts.push(scratch.subarray(cut, offset))
    parts.push(Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength))
    cut = offset
  })
  if (offset > cut) parts.push(scratch.subarray(cut, offset))
  return parts
}

function writeArrayHeader(target: Buffer, offset: number, count: number): number {
  if (count < 16) { target[offset] = 0x90 | count; return offset + 1 }
  if (count < 0x10000) { target[offset] = 0xdc; target.writeUInt16BE(count, offset + 1); return offset + 3 }
  target[offset] = 0xdd
  target.writeUInt32BE(count, offset + 1)
  return offset + 5
}

function writeUint32(target: Buffer, offset: number, value: number): number {
  if (value < 0x80) { target[offset] = value; return offset + 1 }
  if (value < 0x10000) { target[offset] = 0xcd; target.writeUInt16BE(value, offset + 1); return offset + 3 }
  target[offset] = 0xce
  target.writeUInt32BE(value, offset + 1)
  return offset + 5
}

function writeBinHeader(target: Buffer, offset: number, length: number): number {
  if (length < 0x100) { target[offset] = 0xc4; target[offset + 1] = length; return offset + 2 }
  if (length < 0x10000) { target[offset] = 0xc5; target.writeUInt16BE(length, offset + 1); return offset + 3 }
  target[offset] = 0xc6
  target.writeUInt32BE(length, offset + 1)
  return offset + 5
}
