/**
 * Test helper: physical memory built page by page with x86-64 4-level page
 * tables, for the Windows image kit. Frames are handed out upward from
 * 1 MiB; every table and page written is remembered, so the image can be
 * written out as raw bytes or as page-aligned ranges (ELF, crash dumps).
 */
import type { ImageRange } from '../../connectors/file/index.js'

export const PAGE = 4096
const PRESENT = 1n
const WRITABLE = 2n
const USER = 4n
const NX = 1n << 63n
export const PFN_MASK = 0x000ffffffffff000n

export interface MapFlags {
  readonly user?: boolean
  readonly writable?: boolean
  readonly executable?: boolean
}

export class BuiltMemory {
  readonly frames = new Map<number, Uint8Array>()
  private next = 0x100000

  /** A zeroed frame; its physical address. */
  allocFrame(): number {
    const at = this.next
    this.next += PAGE
    this.frames.set(at, new Uint8Array(PAGE))
    return at
  }

  frame(at: number): Uint8Array {
    let f = this.frames.get(at)
    if (f === undefined) { f = new Uint8Array(PAGE); this.frames.set(at, f) }
    return f
  }

  writePhys(at: number, bytes: Uint8Array): void {
    for (let i = 0; i < bytes.length;) {
      const page = Math.floor((at + i) / PAGE) * PAGE
      const off = (at + i) - page
      const n = Math.min(PAGE - off, bytes.length - i)
      this.frame(page).set(bytes.subarray(i, i + n), off)
      i += n
    }
  }

  readU64(at: number): bigint {
    const page = Math.floor(at / PAGE) * PAGE
    const f = this.frame(page)
    return new DataView(f.buffer, f.byteOffset, PAGE).getBigUint64(at - page, true)
  }

  writeU64(at: number, value: bigint): void {
    const b = new Uint8Array(8)
    new DataView(b.buffer).setBigUint64(0, value, true)
    this.writePhys(at, b)
  }

  /** Maps one 4 KiB page; intermediate tables are writable and user-accessible, the leaf carries the flags. */
  map(pml4: number, virt: bigint, phys: number, flags: MapFlags): void {
    let table = pml4
    for (const shift of [39n, 30n, 21n]) {
      const slot = table + Number((virt >> shift) & 511n) * 8
      let entry = this.readU64(slot)
      if ((entry & PRESENT) === 0n) {
        entry = BigInt(this.allocFrame()) | PRESENT | WRITABLE | USER
        this.writeU64(slot, entry)
      }
      table = Number(entry & PFN_MASK)
    }
    let leaf = BigInt(phys) | PRESENT
    if (flags.writable === true) leaf |= WRITABLE
    if (flags.user === true) leaf |= USER
    if (flags.executable !== true) leaf |= NX
    this.writeU64(table + Number((virt >> 12n) & 511n) * 8, leaf)
  }

  /** A non-present leaf (a paged-out page: its PTE holds a pagefile offset, present bit clear). */
  mapPagedOut(pml4: number, virt: bigint): void {
    this.map(pml4, virt, 0, { user: true })
    let table = pml4
    for (const shift of [39n, 30n, 21n]) table = Number(this.readU64(table + Number((virt >> shift) & 511n) * 8) & PFN_MASK)
    this.writeU64(table + Number((virt >> 12n) & 511n) * 8, 0x0000123400000080n)
  }

  /** Every frame as ranges of whole pages, contiguous frames joined; `drop` frames are left out. */
  ranges(drop: ReadonlySet<number> = new Set()): ImageRange[] {
    const pages = [...this.frames.keys()].filter((p) => !drop.has(p)).sort((a, b) => a - b)
    const out: ImageRange[] = []
    let start = -1
    let parts: Uint8Array[] = []
    const flush = (): void => {
      if (parts.length === 0) return
      const data = new Uint8Array(parts.length * PAGE)
      parts.forEach((p, i) => data.set(p, i * PAGE))
      out.push({ addr: BigInt(start), data })
      parts = []
    }
    for (const p of pages) {
      if (parts.length > 0 && p !== start + parts.length * PAGE) flush()
      if (parts.length === 0) start = p
      parts.push(this.frames.get(p)!)
    }
    flush()
    return out
  }

  /** Physical memory as one raw image from address 0. */
  raw(): Uint8Array {
    const end = Math.max(...this.frames.keys()) + PAGE
    const out = new Uint8Array(end)
    for (const [at, f] of this.frames) out.set(f, at)
    return out
  }
}
