/**
 * Test helper and oracle: builds x86-64 page tables (4- or 5-level) in a
 * SparseMemory from a seeded RNG — 4 KiB, 2 MiB and 1 GiB pages, random
 * permissions on every level, random ignored/PAT/protection-key bits — and
 * keeps its own flat map of what it mapped, so the real walker can be checked
 * against a lookup that shares none of its code.
 */
import { physAddr } from '../mem/index.js'
import type { PhysAddr } from '../mem/index.js'
import { SparseMemory } from './fake-memory.js'
import { canonicalFromLinear } from './paging-mode.js'
import type { PagingMode } from './paging-mode.js'

export interface FakePerms {
  readonly writable: boolean
  readonly user: boolean
  readonly executable: boolean
}

/** One mapped page as the fake knows it; permissions are the effective ones (all levels combined). */
export interface FakeMapping extends FakePerms {
  readonly virt: bigint
  readonly phys: bigint
  readonly pageBytes: number
}

export interface FakePageTablesOptions {
  seed: number
  /** Physical address width; default 36 (64 GiB, sparse). Tables live below 4 GiB, data above. */
  physBits?: number
  fill?: 'zeros' | 'pattern'
  /** Make the SparseMemory read-only to writers (the fake itself still builds tables). */
  readonly?: boolean
  /** Set random ignored, accessed/dirty, PAT and protection-key bits (default true). */
  noise?: boolean
  /** Give every table entry full permissions, so a page's permissions are its leaf's (default false: random). */
  openTables?: boolean
  /** How many distinct indices random addresses use per level, root first (small pools share tables). */
  indexPools?: readonly number[]
}

interface TableNode {
  readonly phys: number
  /** Effective permissions of the path down to this table. */
  readonly pathPerms: FakePerms
  readonly children: Map<number, TableNode | FakeMapping>
}

export const PAGE_2M = 1 << 21
export const PAGE_1G = 1 << 30
const TABLE_REGION_START = 1 << 20
const DATA_REGION_START = 2 ** 32

/** mulberry32: a tiny seeded RNG returning [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32
  }
}

export class FakePageTables {
  readonly mem: SparseMemory
  readonly dtb: PhysAddr
  readonly random: () => number
  private readonly root: TableNode
  private readonly byBase = new Map<bigint, FakeMapping>()
  private readonly pools: number[][]
  private readonly physBits: number
  private readonly noise: boolean
  private readonly openTables: boolean
  private nextTable = TABLE_REGION_START

  constructor(readonly mode: PagingMode, options: FakePageTablesOptions) {
    this.random = seededRandom(options.seed)
    this.physBits = options.physBits ?? 36
    this.noise = options.noise ?? true
    this.openTables = options.openTables ?? false
    this.mem = new SparseMemory({ maxAddress: 1n << BigInt(this.physBits), fill: options.fill ?? 'zeros', readonly: options.readonly ?? false })
    const all: FakePerms = { writable: true, user: true, executable: true }
    this.root = { phys: this.allocTable(), pathPerms: all, children: new Map() }
    this.dtb = physAddr(this.root.phys)
    const poolSizes = options.indexPools ?? [4, 6, 8, 32, 128].slice(-mode.levels.length)
    this.pools = mode.levels.map((_, li) => Array.from({ length: poolSizes[li] ?? 64 }, () => this.int(512)))
  }

  int(bound: number): number {
    return Math.floor(this.random() * bound)
  }

  /** A zeroed 4 KiB table page below 4 GiB. */
  allocTable(): number {
    const phys = this.nextTable
    this.nextTable += 4096
    this.mem.poke(phys, new Uint8Array(4096))
    return phys
  }

  /** Raw entry write, for hostile layouts. */
  setEntry(table: number, index: number, lo: number, hi: number): void {
    this.mem.pokeU64(table + index * 8, lo, hi)
  }

  /** Encodes an entry with x86-64 bits, plus random noise in bits the walker must ignore. */
  encode(address: number, perms: FakePerms, kind: 'table' | 'small' | 'large'): { lo: number; hi: number } {
    let lo = 1 | (perms.writable ? 2 : 0) | (perms.user ? 4 : 0)
    let hi = perms.executable ? 0 : 0x80000000
    if (kind === 'large') lo |= 0x80
    if (this.noise) {
      lo |= this.int(2) << 5 | this.int(2) << 6 | this.int(2) << 8 | this.int(8) << 9 | this.int(2) << 3
      hi |= this.int(128) << 20 // bits 52..58: ignored
      if (kind !== 'table') hi |= this.int(16) << 27 // bits 59..62: protection key
      if (kind === 'small') lo |= this.int(2) << 7 // PAT bit of a 4 KiB entry, same position as PS
      if (kind === 'large') lo |= this.int(2) << 12 // PAT bit of a large page
    }
    lo = (lo | (address % 2 ** 32)) >>> 0
    hi = (hi | Math.floor(address / 2 ** 32)) >>> 0
    return { lo, hi }
  }

  private randomPerms(pWritable: number, pUser: number, pExec: number): FakePerms {
    return { writable: this.random() < pWritable, user: this.random() < pUser, executable: this.random() < pExec }
  }

  /** Maps one page; false when it would overlap an existing page or table. */
  map(virt: bigint, phys: bigint, pageBytes: number, perms: FakePerms): boolean {
    const levels = this.mode.levels
    const target = pageBytes === 4096 ? levels.length - 1 : levels.findIndex((l) => l.largePageBytes === pageBytes)
    if (target < 0 || virt % BigInt(pageBytes) !== 0n || phys % BigInt(pageBytes) !== 0n) return false
    let node = this.root
    for (let li = 0; li < target; li++) {
      const index = Number((virt >> BigInt(levels[li]!.indexShift)) & 511n)
      const child = node.children.get(index)
      if (child === undefined) {
        const entryPerms = this.openTables ? { writable: true, user: true, executable: true } : this.randomPerms(0.85, 0.85, 0.9)
        const table: TableNode = { phys: this.allocTable(), pathPerms: and(node.pathPerms, entryPerms), children: new Map() }
        const { lo, hi } = this.encode(table.phys, entryPerms, 'table')
        this.setEntry(node.phys, index, lo, hi)
        node.children.set(index, table)
        node = table
      } else if ('children' in child) {
        node = child
      } else {
        return false
      }
    }
    const index = Number((virt >> BigInt(levels[target]!.indexShift)) & 511n)
    if (node.children.has(index)) return false
    const { lo, hi } = this.encode(Number(phys), perms, pageBytes === 4096 ? 'small' : 'large')
    this.setEntry(node.phys, index, lo, hi)
    const mapping: FakeMapping = { virt, phys, pageBytes, ...and(node.pathPerms, perms) }
    node.children.set(index, mapping)
    this.byBase.set(virt, mapping)
    return true
  }

  /** The fake's own answer: the mapping containing virt, or undefined. */
  lookup(virt: bigint): FakeMapping | undefined {
    for (const size of [4096n, BigInt(PAGE_2M), BigInt(PAGE_1G)]) {
      const m = this.byBase.get(virt - (virt % size))
      if (m !== undefined && virt >= m.virt && virt < m.virt + BigInt(m.pageBytes)) return m
    }
    return undefined
  }

  /** Physical address of the table holding the leaf entry for virt, if the fake built one. */
  leafTable(virt: bigint): number | undefined {
    let node = this.root
    for (const level of this.mode.levels) {
      const child = node.children.get(Number((virt >> BigInt(level.indexShift)) & 511n))
      if (child === undefined || !('children' in child)) return child === undefined ? undefined : node.phys
      node = child
    }
    return undefined
  }

  /** Every mapped page, by virtual address. */
  mappings(): FakeMapping[] {
    return [...this.byBase.values()].sort((a, b) => (a.virt < b.virt ? -1 : a.virt > b.virt ? 1 : 0))
  }

  /** A canonical address built from the per-level index pools; lower levels are zero for large pages. */
  randomVirt(pageBytes = 4096): bigint {
    let linear = 0n
    this.mode.levels.forEach((level, li) => {
      const span = 2 ** level.indexShift
      if (span < pageBytes) return
      const pool = this.pools[li]!
      linear |= BigInt(pool[this.int(pool.length)]!) << BigInt(level.indexShift)
    })
    return canonicalFromLinear(this.mode, linear)
  }

  /** A random page-aligned physical address in the data region (above 4 GiB). */
  randomPhys(pageBytes: number): bigint {
    // Leave room at the top so a contiguous run starting here stays inside memory.
    const slots = Math.max(1, (2 ** this.physBits - DATA_REGION_START) / pageBytes - 16)
    return BigInt(DATA_REGION_START) + BigInt(this.int(slots)) * BigInt(pageBytes)
  }

  /**
   * Maps up to `count` random pages (mostly 4 KiB, some 2 MiB and 1 GiB);
   * some 4 KiB pages come in virtually adjacent runs, physically contiguous
   * or scattered, with shared or differing permissions. Returns how many it mapped.
   */
  populate(count: number, mix = { large: 0.12, huge: 0.03, runs: 0.3 }): number {
    let mapped = 0
    for (let attempt = 0; attempt < count * 4 && mapped < count; attempt++) {
      const roll = this.random()
      const pageBytes = roll < mix.huge ? PAGE_1G : roll < mix.huge + mix.large ? PAGE_2M : 4096
      let perms = this.randomPerms(0.6, 0.6, 0.4)
      const virt = this.randomVirt(pageBytes)
      const run = pageBytes === 4096 && this.random() < mix.runs ? 2 + this.int(7) : 1
      const contiguous = this.random() < 0.6
      let phys = this.randomPhys(pageBytes)
      for (let k = 0; k < run && mapped < count; k++) {
        if (!this.map(virt + BigInt(k * pageBytes), phys, pageBytes, perms)) break
        mapped++
        phys = contiguous ? phys + BigInt(pageBytes) : this.randomPhys(pageBytes)
        if (this.random() < 0.2) perms = this.randomPerms(0.6, 0.6, 0.4)
      }
    }
    return mapped
  }
}

function and(a: FakePerms, b: FakePerms): FakePerms {
  return { writable: a.writable && b.writable, user: a.user && b.user, executable: a.executable && b.executable }
}
