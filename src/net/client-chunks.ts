/**
 * Big pieces cut into chunks that travel as requests of their own, so one
 * big read streams back pipelined on the data channel (each chunk read into
 * its place as it arrives, and the daemon reads the next while it sends one)
 * instead of being read whole on the daemon before a byte moves; and the
 * chunks' results glued back into one result per piece: the first failed
 * chunk fails its piece, a short chunk (the end of a leaf) ends it.
 */
import type { ReadIntoPiece, ReadIntoResult } from '../mem/index.js'

export interface Chunked {
  readonly chunks: ReadIntoPiece[]
  /** The piece each chunk belongs to (ascending, every piece at least one chunk). */
  readonly owners: number[]
}

export function chunkPieces(pieces: readonly ReadIntoPiece[], chunkBytes: number): Chunked {
  const chunks: ReadIntoPiece[] = []
  const owners: number[] = []
  pieces.forEach((piece, index) => {
    let offset = 0
    do {
      const length = Math.min(chunkBytes, piece.length - offset)
      chunks.push({ addr: piece.addr + BigInt(offset), length, at: piece.at + offset })
      owners.push(index)
      offset += length
    } while (offset < piece.length)
  })
  return { chunks, owners }
}

export function mergeChunks(count: number, { chunks, owners }: Chunked, results: readonly ReadIntoResult[]): ReadIntoResult[] {
  const merged: ReadIntoResult[] = []
  let next = 0
  for (let piece = 0; piece < count; piece++) {
    let total = 0
    let outcome: ReadIntoResult | undefined
    for (; next < chunks.length && owners[next] === piece; next++) {
      const result = results[next]
      if (outcome !== undefined || result === undefined) continue
      if (!result.ok) { outcome = result; continue }
      total += result.length
      if (result.length < (chunks[next]?.length ?? 0)) outcome = { ok: true, length: total }
    }
    merged.push(outcome ?? { ok: true, length: total })
  }
  return merged
}
