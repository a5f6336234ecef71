/**
 * A window onto a virtual address space: offset 0 is `base`, and the view
 * ends after `sizeBytes` (a module's image). Pieces that start past the end
 * fail out_of_bounds; pieces that run past it come back short, as a file
 * read at its end does.
 */
import { MemweaveError } from '../errors/index.js'
import { hex, readInto, scatterResults, virtAddr } from '../mem/index.js'
import type { MemMetadata, MemoryView, PieceResult, ReadIntoPiece, ReadIntoResult, ReadPiece, VirtAddr, VirtualMemory, WritePiece, WriteResult } from '../mem/index.js'

export class WindowMemory implements MemoryView {
  constructor(readonly inner: VirtualMemory, readonly base: VirtAddr, readonly sizeBytes: bigint) {}

  async read(pieces: readonly ReadPiece[]): Promise<PieceResult[]> {
    const results = pieces.map((): PieceResult | undefined => undefined)
    const forwarded: ReadPiece<VirtAddr>[] = []
    const owners: number[] = []
    pieces.forEach((piece, index) => {
      const refused = this.refuse(piece.addr)
      if (refused !== undefined) { results[index] = { ok: false, error: refused }; return }
      const length = Number(minBig(BigInt(piece.length), this.sizeBytes - piece.addr))
      forwarded.push({ addr: virtAddr(this.base + piece.addr), length })
      owners.push(index)
    })
    const inner = forwarded.length > 0 ? await this.inner.read(forwarded) : []
    scatterResults(results, owners, inner, 'os', 'window read')
    return results.map((r) => r ?? { ok: false, error: new MemweaveError('os', 'internal', 'window read returned no result') })
  }

  async readInto(pieces: readonly ReadIntoPiece[], target: Uint8Array): Promise<ReadIntoResult[]> {
    const results = pieces.map((): ReadIntoResult | undefined => undefined)
    const forwarded: ReadIntoPiece<VirtAddr>[] = []
    const owners: number[] = []
    pieces.forEach((piece, index) => {
      const refused = this.refuse(piece.addr)
      if (refused !== undefined) { results[index] = { ok: false, error: refused }; return }
      const length = Number(minBig(BigInt(piece.length), this.sizeBytes - piece.addr))
      forwarded.push({ addr: virtAddr(this.base + piece.addr), length, at: piece.at })
      owners.push(index)
    })
    const inner = forwarded.length > 0 ? await readInto(this.inner, forwarded, target) : []
    scatterResults(results, owners, inner, 'os', 'window read')
    return results.map((r) => r ?? { ok: false, error: new MemweaveError('os', 'internal', 'window read returned no result') })
  }

  async write(pieces: readonly WritePiece[]): Promise<WriteResult[]> {
    const results = pieces.map((): WriteResult | undefined => undefined)
    const forwarded: WritePiece<VirtAddr>[] = []
    const owners: number[] = []
    pieces.forEach((piece, index) => {
      const refused = this.refuse(piece.addr) ?? (piece.addr + BigInt(piece.data.length) > this.sizeBytes
        ? new MemweaveError('os', 'out_of_bounds', `write of ${piece.data.length} bytes at ${hex(piece.addr)} runs past the image end ${hex(this.sizeBytes)}`)
        : undefined)
      if (refused !== undefined) { results[index] = { ok: false, error: refused }; return }
      forwarded.push({ addr: virtAddr(this.base + piece.addr), data: piece.data })
      owners.push(index)
    })
    const inner = forwarded.length > 0 ? await this.inner.write(forwarded) : []
    scatterResults(results, owners, inner, 'os', 'window write')
    return results.map((r) => r ?? { ok: false, error: new MemweaveError('os', 'internal', 'window write returned no result') })
  }

  metadata(): MemMetadata {
    return { ...this.inner.metadata(), maxAddress: this.sizeBytes }
  }

  private refuse(addr: bigint): MemweaveError | undefined {
    if (addr < 0n || addr >= this.sizeBytes) {
      return new MemweaveError('os', 'out_of_bounds', `offset ${hex(addr)} is outside the image (size ${hex(this.sizeBytes)})`)
    }
    return undefined
  }
}

function minBig(a: bigint, b: bigint): bigint {
  return a < b ? a : b
}
