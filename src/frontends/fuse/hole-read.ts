/**
 * Reads of memory leaves through the mount: a range that is partly or
 * wholly unmapped reads as zeros for its unmapped pages, so `dd`, `strings`
 * and `grep` walk through holes instead of stopping at the first one.
 *
 * The range is asked for whole first (one piece: the fast path). Only when
 * that piece fails as 'unmapped' is it asked again page by page, so one hole
 * zeroes one page, not a whole read. Any other error (stale, io,
 * disconnected) fails the read: it is not a hole.
 */
import { MemweaveError } from '../../errors/index.js'
import type { PieceResult, ReadPiece } from '../../net/index.js'

export const PAGE_BYTES = 4096

export interface PieceReader {
  read(handle: number, pieces: readonly ReadPiece[]): Promise<PieceResult[]>
}

/** Page-aligned pieces covering [addr, addr + length). */
export function pagePieces(addr: bigint, length: number): ReadPiece[] {
  const pieces: ReadPiece[] = []
  const end = addr + BigInt(length)
  let at = addr
  while (at < end) {
    const pageEnd = (at / BigInt(PAGE_BYTES) + 1n) * BigInt(PAGE_BYTES)
    const next = pageEnd < end ? pageEnd : end
    pieces.push({ addr: at, length: Number(next - at) })
    at = next
  }
  return pieces
}

/** The bytes of [addr, addr + length); shorter only at the end of the leaf. Throws the MemweaveError of a failed read. */
export async function readRange(
  client: PieceReader, handle: number, addr: bigint, length: number, zeroFillUnmapped: boolean,
): Promise<Uint8Array> {
  const [whole] = await client.read(handle, [{ addr, length }])
  if (whole === undefined) throw new MemweaveError('fuse', 'internal', `read of handle ${handle} returned no result`)
  if (whole.ok) return whole.data
  if (!zeroFillUnmapped || whole.error.kind !== 'unmapped') throw whole.error
  const pieces = pagePieces(addr, length)
  const results = await client.read(handle, pieces)
  const out = new Uint8Array(length)
  pieces.forEach((piece, i) => {
    const result = results[i]
    if (result === undefined) throw new MemweaveError('fuse', 'internal', `read of handle ${handle} returned ${results.length} results for ${pieces.length} pages`)
    if (result.ok) out.set(result.data.subarray(0, piece.length), Number(piece.addr - addr))
    else if (result.error.kind !== 'unmapped') throw result.error
  })
  return out
}
