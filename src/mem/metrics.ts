/**
 * Metrics middleware: counts batches, pieces, bytes and failures passing
 * through any memory view, and gives the view back as `inner`.
 */
import type { MemMetadata, MemoryView, PieceResult, ReadIntoPiece, ReadIntoResult, ReadPiece, WritePiece, WriteResult } from './memory-view.js'
import { readInto } from './read-into.js'

export interface MemStats {
  readBatches: number
  readPieces: number
  readBytes: number
  readFailures: number
  writeBatches: number
  writePieces: number
  writeBytes: number
  writeFailures: number
}

export function emptyStats(): MemStats {
  return { readBatches: 0, readPieces: 0, readBytes: 0, readFailures: 0, writeBatches: 0, writePieces: 0, writeBytes: 0, writeFailures: 0 }
}

export class MeteredMemory<A extends bigint> implements MemoryView<A> {
  readonly stats: MemStats = emptyStats()
  constructor(readonly inner: MemoryView<A>) {}

  async read(pieces: readonly ReadPiece<A>[]): Promise<PieceResult[]> {
    const results = await this.inner.read(pieces)
    this.stats.readBatches++
    this.stats.readPieces += pieces.length
    for (const r of results) {
      if (r.ok) this.stats.readBytes += r.data.length
      else this.stats.readFailures++
    }
    return results
  }

  async readInto(pieces: readonly ReadIntoPiece<A>[], target: Uint8Array): Promise<ReadIntoResult[]> {
    const results = await readInto(this.inner, pieces, target)
    this.stats.readBatches++
    this.stats.readPieces += pieces.length
    for (const r of results) {
      if (r.ok) this.stats.readBytes += r.length
      else this.stats.readFailures++
    }
    return results
  }

  async write(pieces: readonly WritePiece<A>[]): Promise<WriteResult[]> {
    const results = await this.inner.write(pieces)
    this.stats.writeBatches++
    this.stats.writePieces += pieces.length
    results.forEach((r, i) => {
      if (r.ok) this.stats.writeBytes += pieces[i]?.data.length ?? 0
      else this.stats.writeFailures++
    })
    return results
  }

  metadata(): MemMetadata {
    return this.inner.metadata()
  }
}
