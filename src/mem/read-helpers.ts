/**
 * One-value helpers built on the batch interface: each builds a batch of one
 * (or a few) and unwraps the result, throwing that piece's error. Also the
 * bookkeeping of batches forwarded in parts (splitPieces, scatterResults).
 */
import { MemweaveError } from '../errors/index.js'
import type { ErrorOrigin } from '../errors/index.js'
import type { MemoryView, PieceResult, ReadPiece } from './memory-view.js'
import { MAX_PIECE_BYTES } from './memory-view.js'

export async function readExact<A extends bigint>(mem: MemoryView<A>, addr: A, length: number): Promise<Uint8Array> {
  const [result] = await mem.read([{ addr, length }])
  return unwrap(result, addr, length)
}

export async function readU64<A extends bigint>(mem: MemoryView<A>, addr: A): Promise<bigint> {
  const data = await readExact(mem, addr, 8)
  return new DataView(data.buffer, data.byteOffset, 8).getBigUint64(0, true)
}

export async function readU32<A extends bigint>(mem: MemoryView<A>, addr: A): Promise<number> {
  const data = await readExact(mem, addr, 4)
  return new DataView(data.buffer, data.byteOffset, 4).getUint32(0, true)
}

export async function writeExact<A extends bigint>(mem: MemoryView<A>, addr: A, data: Uint8Array): Promise<void> {
  const [result] = await mem.write([{ addr, data }])
  if (result === undefined) throw new MemweaveError('mem', 'internal', 'write returned no result')
  if (!result.ok) throw result.error
}

export function unwrap(result: PieceResult | undefined, addr: bigint, length: number): Uint8Array {
  if (result === undefined) {
    throw new MemweaveError('mem', 'internal', `read of ${length} bytes at 0x${addr.toString(16)} returned no result`)
  }
  if (!result.ok) throw result.error
  return result.data
}

/** Splits pieces larger than maxPiece so no layer sees an oversized request. */
export function splitPieces<A extends bigint>(pieces: readonly ReadPiece<A>[], maxPiece = MAX_PIECE_BYTES): { split: ReadPiece<A>[]; owners: number[] } {
  const split: ReadPiece<A>[] = []
  const owners: number[] = []
  pieces.forEach((piece, index) => {
    let done = 0
    do {
      const length = Math.min(maxPiece, piece.length - done)
      split.push({ addr: (piece.addr + BigInt(done)) as A, length })
      owners.push(index)
      done += length
    } while (done < piece.length)
  })
  return { split, owners }
}

/** Zero-filled copy of a failed read; used by frontends that document holes as zeros. */
export function dataOrZeros(result: PieceResult, length: number): Uint8Array {
  return result.ok ? result.data : new Uint8Array(length)
}

/**
 * Puts the results of a forwarded batch back where their pieces sit in the
 * caller's batch (`owners[i]` = the caller's index of forwarded piece i). A
 * count or an index that does not match is a bug below, reported as an
 * internal error rather than written over some other piece's result.
 */
export function scatterResults<R>(results: (R | undefined)[], owners: readonly number[], forwarded: readonly R[], origin: ErrorOrigin, what: string): void {
  if (forwarded.length !== owners.length) {
    throw new MemweaveError(origin, 'internal', `${what}: ${forwarded.length} results came back for ${owners.length} pieces`)
  }
  forwarded.forEach((result, i) => {
    const index = owners[i]
    if (index === undefined || !Number.isInteger(index) || index < 0 || index >= results.length) {
      throw new MemweaveError(origin, 'internal', `${what}: result ${i} has no piece to go to (index ${String(index)} of ${results.length})`)
    }
    results[index] = result
  })
}
