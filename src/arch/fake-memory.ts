/**
 * Test helper: a sparse in-memory PhysicalMemory. Written 4 KiB frames are
 * stored; unwritten ones read as zeros or as a fixed pattern derived from the
 * physical address (so reads through page tables are checkable without
 * allocating gigabytes). It counts batches and pieces so tests can assert how
 * many reads a walk made.
 */
import { MemweaveError } from '../errors/index.js'
import { hex } from '../mem/index.js'
import type { MemMetadata, PhysAddr, PhysicalMemory, PieceResult, ReadPiece, WritePiece, WriteResult } from '../mem/index.js'

export interface SparseMemoryOptions {
  /** One past the highest address; must be at most 2^52. */
  maxAddress: bigint
  /** What unwritten frames contain. */
  fill?: 'zeros' | 'pattern'
  readonly?: boolean
  volatile?: boolean
}

const FRAME = 4096

/** The pattern byte at a physical address (what an unwritten frame holds with fill 'pattern'). */
export function patternByte(phys: number): number {
  const lo = phys >>> 0
  const hi = Math.floor(phys / 2 ** 32)
  return Math.imul(lo ^ Math.imul(hi, 0x27d4eb2d), 0x9e3779b1) >>> 24
}

export class SparseMemory implements PhysicalMemory {
  private readonly frames = new Map<number, Uint8Array>()
  readBatches = 0
  readPieces = 0
  writeBatches = 0

  constructor(readonly options: SparseMemoryOptions) {
    if (options.maxAddress > 1n << 52n) throw new MemweaveError('mem', 'invalid_argument', 'SparseMemory maxAddress must be at most 2^52')
  }

  /** Copies [phys, phys+length) into dest (no bounds check: callers validate). */
  peek(phys: number, dest: Uint8Array): void {
    let done = 0
    while (done < dest.length) {
      const addr = phys + done
      const frameBase = addr - (addr % FRAME)
      const offset = addr - frameBase
      const n = Math.min(FRAME - offset, dest.length - done)
      const frame = this.frames.get(frameBase)
      if (frame !== undefined) dest.set(frame.subarray(offset, offset + n), done)
      else if (this.options.fill === 'pattern') for (let k = 0; k < n; k++) dest[done + k] = patternByte(addr + k)
      done += n
    }
  }

  /** Stores bytes at phys, materialising frames as needed. */
  poke(phys: number, data: Uint8Array): void {
    let done = 0
    while (done < data.length) {
      const addr = phys + done
      const frameBase = addr - (addr % FRAME)
      const offset = addr - frameBase
      const n = Math.min(FRAME - offset, data.length - done)
      let frame = this.frames.get(frameBase)
      if (frame === undefined) {
        frame = new Uint8Array(FRAME)
        if (this.options.fill === 'pattern') this.peek(frameBase, frame)
        this.frames.set(frameBase, frame)
      }
      frame.set(data.subarray(done, done + n), offset)
      done += n
    }
  }

  /** Writes one little-endian 64-bit value given as two 32-bit words. */
  pokeU64(phys: number, lo: number, hi: number): void {
    const bytes = new Uint8Array(8)
    const view = new DataView(bytes.buffer)
    view.setUint32(0, lo >>> 0, true)
    view.setUint32(4, hi >>> 0, true)
    this.poke(phys, bytes)
  }

  private check(addr: bigint, length: number): MemweaveError | undefined {
    if (addr < 0n || addr + BigInt(length) > this.options.maxAddress) {
      return new MemweaveError('mem', 'out_of_bounds', `physical ${hex(addr)}+${length} is beyond ${hex(this.options.maxAddress)}`)
    }
    return undefined
  }

  async read(pieces: readonly ReadPiece<PhysAddr>[]): Promise<PieceResult[]> {
    this.readBatches++
    this.readPieces += pieces.length
    return pieces.map((piece): PieceResult => {
      const error = this.check(piece.addr, piece.length)
      if (error !== undefined) return { ok: false, error }
      const data = new Uint8Array(piece.length)
      this.peek(Number(piece.addr), data)
      return { ok: true, data }
    })
  }

  async write(pieces: readonly WritePiece<PhysAddr>[]): Promise<WriteResult[]> {
    this.writeBatches++
    return pieces.map((piece): WriteResult => {
      if (this.options.readonly === true) return { ok: false, error: new MemweaveError('mem', 'permission', 'memory is read-only') }
      const error = this.check(piece.addr, piece.data.length)
      if (error !== undefined) return { ok: false, error }
      this.poke(Number(piece.addr), piece.data)
      return { ok: true }
    })
  }

  metadata(): MemMetadata {
    return { maxAddress: this.options.maxAddress, idealBatchSize: 4096, readonly: this.options.readonly === true, volatile: this.options.volatile === true }
  }

  /** Frames materialised so far (tables and written data). */
  get frameCount(): number {
    return this.frames.size
  }
}
