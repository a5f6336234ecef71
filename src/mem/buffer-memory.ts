/**
 * A memory view over a byte array: the simplest source, used by tests as an
 * oracle and by seeded fakes (synthetic page tables, fake guest kernels).
 */
import { MemweaveError } from '../errors/index.js'
import type { MemMetadata, MemoryView, PieceResult, ReadIntoPiece, ReadIntoResult, ReadPiece, WritePiece, WriteResult } from './memory-view.js'

export class BufferMemory<A extends bigint = bigint> implements MemoryView<A> {
  constructor(readonly bytes: Uint8Array, private readonly options: { readonly?: boolean; volatile?: boolean } = {}) {}

  async read(pieces: readonly ReadPiece<A>[]): Promise<PieceResult[]> {
    return pieces.map((piece): PieceResult => {
      const error = this.check(piece.addr, piece.length)
      if (error !== undefined) return { ok: false, error }
      const start = Number(piece.addr)
      return { ok: true, data: this.bytes.slice(start, start + piece.length) }
    })
  }

  async readInto(pieces: readonly ReadIntoPiece<A>[], target: Uint8Array): Promise<ReadIntoResult[]> {
    return pieces.map((piece): ReadIntoResult => {
      const error = this.check(piece.addr, piece.length)
      if (error !== undefined) return { ok: false, error }
      const start = Number(piece.addr)
      target.set(this.bytes.subarray(start, start + piece.length), piece.at)
      return { ok: true, length: piece.length }
    })
  }

  async write(pieces: readonly WritePiece<A>[]): Promise<WriteResult[]> {
    return pieces.map((piece): WriteResult => {
      if (this.options.readonly === true) return { ok: false, error: new MemweaveError('mem', 'permission', 'memory is read-only') }
      const error = this.check(piece.addr, piece.data.length)
      if (error !== undefined) return { ok: false, error }
      this.bytes.set(piece.data, Number(piece.addr))
      return { ok: true }
    })
  }

  metadata(): MemMetadata {
    return { maxAddress: BigInt(this.bytes.length), idealBatchSize: 4096, readonly: this.options.readonly === true, volatile: this.options.volatile === true }
  }

  private check(addr: bigint, length: number): MemweaveError | undefined {
    if (addr < 0n || addr + BigInt(length) > BigInt(this.bytes.length)) {
      return new MemweaveError('mem', 'out_of_bounds', `0x${addr.toString(16)}+${length} is outside 0..0x${this.bytes.length.toString(16)}`)
    }
    return undefined
  }
}
