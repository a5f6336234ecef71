/**
 * Test helper and oracle for AArch64: builds stage-1 tables for any
 * aarch64Mode in a SparseMemory from a seeded RNG — TTBR0 (lower half) and
 * TTBR1 (upper half) roots, pages, blocks and contiguous runs, random AP /
 * DBM / UXN / PXN, noise in the attribute and software bits, 52-bit output
 * addresses where the mode has them — and keeps its own flat map of what it
 * mapped, so the walker is checked against a lookup that shares none of its code.
 */
import { physAddr } from '../mem/index.js'
import type { PhysAddr } from '../mem/index.js'
import { SparseMemory } from './fake-memory.js'
import { seededRandom } from './fake-page-tables.js'
import type { FakeMapping, FakePerms } from './fake-page-tables.js'
import type { PagingMode } from './paging-mode.js'

interface Node { readonly phys: number; readonly children: Map<number, Node | FakeMapping> }

const TABLE_REGION_START = 1 << 20
const DATA_REGION_START = 2 ** 32
/** Entries a contiguous run spans (4K: 16, 16K: 128, 64K: 32), per the architecture. */
function contiguousEntries(pageBytes: number): number {
  return pageBytes === 16384 ? 128 : pageBytes === 65536 ? 32 : 16
}

export class FakeAarch64Tables {
  readonly mem: SparseMemory
  readonly ttbr0: PhysAddr
  readonly ttbr1: PhysAddr
  readonly random: () => number
  private readonly roots: [Node, Node]
  private readonly byBase = new Map<bigint, FakeMapping>()
  private readonly physBits: number
  private nextTable = TABLE_REGION_START
  private readonly granule: number
  private readonly lpa2: boolean

  constructor(readonly mode: PagingMode, options: { seed: number; physBits?: number }) {
    this.random = seededRandom(options.seed)
    this.granule = mode.pageBytes
    this.lpa2 = mode.extraAddress !== undefined
    this.physBits = options.physBits ?? (this.lpa2 ? 52 : 40)
    this.mem = new SparseMemory({ maxAddress: 1n << BigInt(this.physBits), fill: 'pattern' })
    this.roots = [{ phys: this.allocTable(), children: new Map() }, { phys: this.allocTable(), children: new Map() }]
    // TTBR values carry an ASID in bits 63:48 and CnP in bit 0: the walker must drop both.
    this.ttbr0 = physAddr(BigInt(this.roots[0].phys) | (BigInt(this.int(65536)) << 48n) | 1n)
    this.ttbr1 = physAddr(BigInt(this.roots[1].phys))
  }

  int(bound: number): number {
    return Math.floor(this.random() * bound)
  }

  private allocTable(): number {
    const phys = this.nextTable
    this.nextTable += this.granule
    this.mem.poke(phys, new Uint8Array(this.granule))
    return phys
  }

  /** Address bits of a descriptor, with 52-bit PAs split as the mode keeps them. */
  private addressWords(address: number): { lo: number; hi: number } {
    let field = address
    let extra = 0
    const ext = this.mode.extraAddress
    if (ext !== undefined) {
      const top = Math.floor(address / 2 ** ext.toBit)
      extra = top * 2 ** ext.lowBit
      field = address - top * 2 ** ext.toBit
    }
    return { lo: ((field % 2 ** 32) | extra) >>> 0, hi: Math.floor(field / 2 ** 32) >>> 0 }
  }

  private encode(address: number, kind: 'table' | 'block' | 'page', perms: FakePerms, contiguous: boolean): { lo: number; hi: number } {
    const a = this.addressWords(address)
    let lo = a.lo | (kind === 'block' ? 1 : 3)
    let hi = a.hi
    if (kind === 'table') return { lo: lo >>> 0, hi }
    // noise: AttrIndx (4:2), NS (5), AF (10), nG (11), SH (9:8) unless they hold address bits, software bits 58:55
    lo |= this.int(8) << 2 | this.int(2) << 5 | this.int(2) << 10 | this.int(2) << 11
    if (!this.lpa2 || this.granule === 65536) lo |= this.int(4) << 8
    hi |= this.int(16) << 23
    if (perms.user) lo |= 1 << 6
    const dbm = perms.writable ? this.random() < 0.5 : false
    if (!perms.writable || dbm) lo |= 1 << 7 // AP[2] read-only, made writable by DBM
    if (dbm) hi |= 1 << 19 // bit 51
    if (contiguous) hi |= 1 << 20 // bit 52
    if (!perms.executable) hi |= 3 << 21 // PXN (53) and UXN (54)
    else if (this.random() < 0.5) hi |= (this.random() < 0.5 ? 1 : 2) << 21 // one of them only: still executable
    return { lo: lo >>> 0, hi: hi >>> 0 }
  }

  private indexOf(virt: bigint, li: number): number {
    const level = this.mode.levels[li]!
    return Number((virt >> BigInt(level.indexShift)) & BigInt(2 ** level.indexBits - 1))
  }

  /** Maps one page or block; false when it would overlap something mapped. */
  map(virt: bigint, phys: bigint, pageBytes: number, perms: FakePerms, contiguous = false): boolean {
    const levels = this.mode.levels
    const target = pageBytes === this.granule ? levels.length - 1 : levels.findIndex((l) => l.largePageBytes === pageBytes)
    if (target < 0 || virt % BigInt(pageBytes) !== 0n || phys % BigInt(pageBytes) !== 0n) return false
    const upper = virt >= 1n << 63n
    let node = this.roots[upper ? 1 : 0]
    for (let li = 0; li < target; li++) {
      const index = this.indexOf(virt, li)
      const child = node.children.get(index)
      if (child === undefined) {
        const table: Node = { phys: this.allocTable(), children: new Map() }
        const { lo, hi } = this.encode(table.phys, 'table', perms, false)
        this.mem.pokeU64(node.phys + index * 8, lo, hi)
        node.children.set(index, table)
        node = table
      } else if ('children' in child) node = child
      else return false
    }
    const index = this.indexOf(virt, target)
    if (node.children.has(index)) return false
    const { lo, hi } = this.encode(Number(phys), target === levels.length - 1 ? 'page' : 'block', perms, contiguous)
    this.mem.pokeU64(node.phys + index * 8, lo, hi)
    const mapping: FakeMapping = { virt, phys, pageBytes, ...perms }
    node.children.set(index, mapping)
    this.byBase.set(virt, mapping)
    return true
  }

  /** Writes a reserved last-level descriptor (bits 1:0 = 01) for virt, whose tables must exist. */
  mapReservedPage(virt: bigint): boolean {
    const levels = this.mode.levels
    let node = this.roots[virt >= 1n << 63n ? 1 : 0]
    for (let li = 0; li < levels.length - 1; li++) {
      const child = node.children.get(this.indexOf(virt, li))
      if (child === undefined || !('children' in child)) return false
      node = child
    }
    const index = this.indexOf(virt, levels.length - 1)
    if (node.children.has(index)) return false
    this.mem.pokeU64(node.phys + index * 8, (DATA_REGION_START % 2 ** 32) | 1, 1)
    return true
  }

  lookup(virt: bigint): FakeMapping | undefined {
    const sizes = [this.granule, ...this.mode.levels.flatMap((l) => (l.largePageBytes === undefined ? [] : [l.largePageBytes]))]
    for (const size of sizes) {
      const m = this.byBase.get(virt - (virt % BigInt(size)))
      if (m !== undefined && virt < m.virt + BigInt(m.pageBytes)) return m
    }
    return undefined
  }

  mappings(): FakeMapping[] {
    return [...this.byBase.values()].sort((a, b) => (a.virt < b.virt ? -1 : a.virt > b.virt ? 1 : 0))
  }

  /** A canonical address in one half, with few distinct upper indexes so tables are shared. */
  randomVirt(upper: boolean, alignBytes: number): bigint {
    const half = 1n << BigInt(this.mode.virtualBits)
    const slots = Number(half / BigInt(alignBytes))
    // a handful of regions, then a random slot inside 64 regions' worth
    const region = BigInt(this.int(4)) * (half / 4n)
    const offset = BigInt(this.int(Math.min(slots / 4, 4096 * 64))) * BigInt(alignBytes)
    const low = region + offset
    return upper ? (1n << 64n) - half + low : low
  }

  randomPhys(alignBytes: number, count = 1): bigint {
    const slots = Math.max(1, Math.floor((2 ** this.physBits - DATA_REGION_START) / alignBytes) - count - 1)
    return BigInt(DATA_REGION_START) + BigInt(this.int(slots)) * BigInt(alignBytes)
  }

  private randomPerms(): FakePerms {
    return { writable: this.random() < 0.5, user: this.random() < 0.5, executable: this.random() < 0.4 }
  }

  /** Pages, blocks and contiguous runs in both halves; returns how many entries it wrote. */
  populate(count: number): number {
    const blocks = this.mode.levels.flatMap((l) => (l.largePageBytes === undefined || l.largePageBytes > 2 ** 36 ? [] : [l.largePageBytes]))
    let mapped = 0
    for (let attempt = 0; attempt < count * 4 && mapped < count; attempt++) {
      const upper = this.random() < 0.5
      const roll = this.random()
      const perms = this.randomPerms()
      if (roll < 0.15 && blocks.length > 0) {
        const size = blocks[this.int(blocks.length)]!
        if (this.map(this.randomVirt(upper, size), this.randomPhys(size), size, perms)) mapped++
      } else if (roll < 0.3) {
        const n = contiguousEntries(this.granule)
        const span = n * this.granule
        const virt = this.randomVirt(upper, span)
        const phys = this.randomPhys(span)
        for (let k = 0; k < n; k++) if (this.map(virt + BigInt(k * this.granule), phys + BigInt(k * this.granule), this.granule, perms, true)) mapped++
      } else if (this.map(this.randomVirt(upper, this.granule), this.randomPhys(this.granule), this.granule, perms)) {
        mapped++
      }
    }
    return mapped
  }
}
