/**
 * How the protocol client turns wire results into the caller's: read
 * results as fresh pieces or written into a readInto target (pieces that
 * came from the data ring or channel are already in place), the batch's
 * results once every split request is in, and the optional hop chain field.
 */
import { MemweaveError } from '../errors/index.js'
import type { PieceResult, ReadIntoPiece, ReadIntoResult } from '../mem/index.js'
import { fromWireError } from './codec.js'
import { protocolError } from './field-guards.js'
import type { WireReadResult } from './messages.js'

/** Smaller pieces are copied out of the socket buffer so keeping them does not keep the whole frame alive. */
const COPY_BELOW_BYTES = 16 * 1024

/** Every piece's result once all its batches are in (a gap would be a bug in the split, reported as that piece's error). */
export function allResults<R>(results: readonly (R | { ok: false; error: MemweaveError } | undefined)[]): (R | { ok: false; error: MemweaveError })[] {
  return results.map((r, i) => r ?? { ok: false, error: new MemweaveError('net', 'internal', `no result for piece ${i} of the batch`) })
}

export function viaField(via: readonly string[] | undefined): { via?: readonly string[] } {
  return via === undefined || via.length === 0 ? {} : { via }
}

/** A wire result written into the caller's target (ring pieces are already there); the bytes written. */
export function placeResult(result: WireReadResult, piece: ReadIntoPiece, target: Uint8Array): ReadIntoResult {
  if ('error' in result) return { ok: false, error: fromWireError(result.error) }
  if (!('data' in result)) throw protocolError('a read result still points into the data ring')
  const data = result.data
  if (data.length > piece.length) throw protocolError(`a read piece of ${piece.length} bytes came back with ${data.length}`)
  if (data.length > 0 && (data.buffer !== target.buffer || data.byteOffset !== target.byteOffset + piece.at)) target.set(data, piece.at)
  return { ok: true, length: data.length }
}

export function toPieceResult(result: WireReadResult): PieceResult {
  if ('error' in result) return { ok: false, error: fromWireError(result.error) }
  if (!('data' in result)) throw protocolError('a read result still points into the data ring')
  // A piece that is its whole buffer (a ring copy) keeps nothing else alive; one inside a frame is copied out.
  const whole = result.data.byteOffset === 0 && result.data.byteLength === result.data.buffer.byteLength
  const data = result.data.length < COPY_BELOW_BYTES && !whole ? Buffer.from(result.data) : result.data
  return { ok: true, data }
}
