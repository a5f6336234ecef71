/**
 * Reading into the caller's memory. `readInto(mem, pieces, target)` checks
 * that every piece lies inside the target, then uses the view's own
 * readInto when it has one (one copy, source → target) or read() and a copy
 * when it does not; either way the results are per piece. The other helpers
 * lay pieces out back to back, and let a view build read() on its readInto
 * (one fresh buffer per batch, each piece a view of it).
 */
import { MemweaveError } from '../errors/index.js'
import type { MemoryView, PieceResult, ReadIntoPiece, ReadIntoResult, ReadPiece } from './memory-view.js'

/** Places pieces back to back from `start`; the bytes they need in all. */
export function layOut<A extends bigint>(pieces: readonly ReadPiece<A>[], start = 0): { pieces: ReadIntoPiece<A>[]; bytes: number } {
  let at = start
  const out = pieces.map((p) => {
    const piece = { addr: p.addr, length: p.length, at }
    at += p.length
    return piece
  })
  return { pieces: out, bytes: at - start }
}

/** Throws unless every piece lies inside the target: a caller's bug, never a per-piece failure. */
export function checkTarget(pieces: readonly ReadIntoPiece[], target: Uint8Array): void {
  for (const p of pieces) {
    if (!Number.isSafeInteger(p.at) || !Number.isSafeInteger(p.length) || p.at < 0 || p.length < 0 || p.at + p.length > target.length) {
      throw new MemweaveError('mem', 'invalid_argument', `readInto piece of ${p.length} bytes at target offset ${p.at} does not fit a target of ${target.length} bytes`)
    }
  }
}

/** Reads each piece into target[at, at+length); one result per piece. */
export function readInto<A extends bigint>(mem: MemoryView<A>, pieces: readonly ReadIntoPiece<A>[], target: Uint8Array): Promise<ReadIntoResult[]> {
  try {
    checkTarget(pieces, target)
  } catch (err) {
    return Promise.reject(err)
  }
  if (mem.readInto !== undefined) return mem.readInto(pieces, target)
  return readIntoByCopy(mem, pieces, target)
}

/** The fallback: read() and copy each piece's bytes into place. */
export async function readIntoByCopy<A extends bigint>(mem: Pick<MemoryView<A>, 'read'>, pieces: readonly ReadIntoPiece<A>[], target: Uint8Array): Promise<ReadIntoResult[]> {
  const results = pieces.length > 0 ? await mem.read(pieces.map((p) => ({ addr: p.addr, length: p.length }))) : []
  return copyResults(results, pieces, target)
}

/** Copies read() results into their places; a result longer than its piece is a bug in the view. */
export function copyResults(results: readonly (PieceResult | undefined)[], pieces: readonly ReadIntoPiece[], target: Uint8Array): ReadIntoResult[] {
  return pieces.map((piece, i): ReadIntoResult => {
    const r = results[i]
    if (r === undefined) return { ok: false, error: new MemweaveError('mem', 'internal', `read returned no result for piece ${i}`) }
    if (!r.ok) return r
    if (r.data.length > piece.length) return { ok: false, error: new MemweaveError('mem', 'internal', `read returned ${r.data.length} bytes for a piece of ${piece.length}`) }
    if (r.data.length > 0 && (r.data.buffer !== target.buffer || r.data.byteOffset !== target.byteOffset + piece.at)) target.set(r.data, piece.at)
    return { ok: true, length: r.data.length }
  })
}

/**
 * read() for a view whose real work is readInto: one fresh buffer for the
 * batch (its own memory, never Node's shared pool), each piece a view of it.
 */
export async function readFresh<A extends bigint>(readIntoFn: (pieces: readonly ReadIntoPiece<A>[], target: Uint8Array) => Promise<ReadIntoResult[]>, pieces: readonly ReadPiece<A>[]): Promise<PieceResult[]> {
  const { pieces: placed, bytes } = layOut(pieces)
  const raw = Buffer.allocUnsafeSlow(bytes) // every byte handed out is written by readInto first
  const target = new Uint8Array(raw.buffer, raw.byteOffset, bytes)
  const results = await readIntoFn(placed, target)
  return results.map((r, i): PieceResult => (r.ok ? { ok: true, data: target.subarray(placed[i]!.at, placed[i]!.at + r.length) } : r))
}
