/**
 * The address space of a process whose page tables cannot be found (a user
 * task whose mm pointer leads nowhere in a damaged dump): every piece fails
 * with the same reason, so reads say why instead of showing kernel memory.
 */
import { MemweaveError } from '../../errors/index.js'
import type { MemMetadata, PieceResult, ReadPiece, VirtAddr, VirtualMemory, WritePiece, WriteResult } from '../../mem/index.js'

export class UnreadableMemory implements VirtualMemory {
  constructor(private readonly meta: MemMetadata, private readonly reason: string) {}

  async read(pieces: readonly ReadPiece<VirtAddr>[]): Promise<PieceResult[]> {
    return pieces.map(() => ({ ok: false, error: new MemweaveError('os', 'unmapped', this.reason) }))
  }

  async write(pieces: readonly WritePiece<VirtAddr>[]): Promise<WriteResult[]> {
    return pieces.map(() => ({ ok: false, error: new MemweaveError('os', 'unmapped', this.reason) }))
  }

  metadata(): MemMetadata {
    return { ...this.meta, readonly: true }
  }
}
