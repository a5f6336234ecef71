/**
 * Splitting a caller's batch into requests the server accepts (its limits
 * come with hello): at most maxPieces per request, at most maxBatchBytes of
 * data, and writes small enough for one message. A single piece too big for
 * any request gets its own 'too_large' result instead of failing the batch.
 */
import { MemweaveError } from '../errors/index.js'
import type { WireLimits } from './messages.js'

export interface Batch<P> {
  readonly pieces: P[]
  /** Where each piece sits in the caller's batch. */
  readonly indexes: number[]
}

export interface Split<P> {
  readonly batches: Batch<P>[]
  readonly oversized: Array<{ index: number; error: MemweaveError }>
}

/** msgpack framing around one piece (map header, keys, addr as int64, bin header), rounded up. */
export const PIECE_OVERHEAD_BYTES = 40
const MESSAGE_OVERHEAD_BYTES = 256

export function splitBatch<P>(pieces: readonly P[], bytesOf: (piece: P) => number, limits: WireLimits, isWrite: boolean): Split<P> {
  const maxBytes = isWrite ? Math.min(limits.maxBatchBytes, limits.maxMessageBytes - MESSAGE_OVERHEAD_BYTES) : limits.maxBatchBytes
  // Read requests carry no data, but their pieces still have to fit one message.
  const maxPieces = Math.max(1, Math.min(limits.maxPieces, Math.floor((limits.maxMessageBytes - MESSAGE_OVERHEAD_BYTES) / PIECE_OVERHEAD_BYTES)))
  const batches: Batch<P>[] = []
  const oversized: Array<{ index: number; error: MemweaveError }> = []
  let current: Batch<P> = { pieces: [], indexes: [] }
  let currentBytes = 0
  pieces.forEach((piece, index) => {
    const bytes = bytesOf(piece) + (isWrite ? PIECE_OVERHEAD_BYTES : 0)
    if (bytes > maxBytes) {
      oversized.push({ index, error: new MemweaveError('net', 'too_large', `a piece of ${bytesOf(piece)} bytes exceeds the server's limit of ${maxBytes} bytes per request; split it`) })
      return
    }
    if (current.pieces.length >= maxPieces || currentBytes + bytes > maxBytes) {
      batches.push(current)
      current = { pieces: [], indexes: [] }
      currentBytes = 0
    }
    current.pieces.push(piece)
    current.indexes.push(index)
    currentBytes += bytes
  })
  if (current.pieces.length > 0) batches.push(current)
  return { batches, oversized }
}
