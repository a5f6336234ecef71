/**
 * Splitting a caller's batch into requests the server accepts (its limits
 * come with hello): at most maxPieces per request, at most maxBatchBytes of
 * data, and writes small enough for one message. A single piece too big for
 * any request gets its own 'too_large' result instead of failing the batch.
 * runBatched sends those requests at once and puts each result in its place.
 */
import { MemweaveError } from '../errors/index.js'
import { scatterResults } from '../mem/index.js'
import { allResults } from './client-results.js'
import { protocolError } from './field-guards.js'
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

/**
 * Runs a caller's batch as the requests the server accepts, all at once: `send` makes one request, `toResult`
 * turns each of its wire results (the j-th of that request) into the caller's, and each lands at its piece's place.
 */
export async function runBatched<P, W, R>(op: 'read' | 'write', pieces: readonly P[], bytesOf: (piece: P) => number, limits: WireLimits,
  send: (batch: Batch<P>) => Promise<readonly W[]>, toResult: (wire: W, j: number, batch: Batch<P>) => R): Promise<(R | { ok: false; error: MemweaveError })[]> {
  const results: (R | { ok: false; error: MemweaveError } | undefined)[] = Array.from({ length: pieces.length }, () => undefined)
  const { batches, oversized } = splitBatch(pieces, bytesOf, limits, op === 'write')
  for (const { index, error } of oversized) results[index] = { ok: false, error }
  await Promise.all(batches.map(async (batch) => {
    const wire = await send(batch)
    if (wire.length !== batch.pieces.length) throw protocolError(`${op} of ${batch.pieces.length} pieces got ${wire.length} results`)
    scatterResults(results, batch.indexes, wire.map((result, j) => toResult(result, j, batch)), 'net', op)
  }))
  return allResults(results)
}
