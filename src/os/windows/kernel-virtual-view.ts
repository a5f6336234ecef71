/**
 * A connector whose addresses already are kernel virtual addresses (a
 * Windows triage dump: blocks keyed by virtual address) seen as the
 * kernel's VirtualMemory: addresses pass through unchanged, and there is no
 * translation to do or to cache.
 */
import { physAddr } from '../../mem/index.js'
import type { MemMetadata, PhysicalMemory, PieceResult, ReadPiece, VirtAddr, VirtualMemory, WritePiece, WriteResult } from '../../mem/index.js'

export class KernelVirtualView implements VirtualMemory {
  constructor(readonly inner: PhysicalMemory) {}

  read(pieces: readonly ReadPiece<VirtAddr>[]): Promise<PieceResult[]> {
    return this.inner.read(pieces.map((p) => ({ addr: physAddr(p.addr), length: p.length })))
  }

  write(pieces: readonly WritePiece<VirtAddr>[]): Promise<WriteResult[]> {
    return this.inner.write(pieces.map((p) => ({ addr: physAddr(p.addr), data: p.data })))
  }

  metadata(): MemMetadata {
    return this.inner.metadata()
  }
}
