/**
 * Mapping enumeration: every mapped page of an address space (or of a range
 * of it), merged into runs that are contiguous virtually and physically with
 * equal permissions. The walk is depth-first in address order; the child
 * tables of each table are fetched in one batch. It is bounded: hostile or
 * garbage tables (one table referenced from everywhere, a recursive slot,
 * 512^4 present entries) stop at maxEntries with `truncated` set.
 */
import { MemweaveError } from '../errors/index.js'
import { hex, physAddr, virtAddr } from '../mem/index.js'
import type { PhysAddr, PhysicalMemory, VirtAddr } from '../mem/index.js'
import { ALL_FLAGS, compileMode, entryAddress, entryFlags, FLAG_EXECUTABLE, FLAG_USER, FLAG_WRITABLE, hasBit, isLargeEntry, isValidLastEntry, largePageBase, tableFlags } from './entry-format.js'
import type { CompiledMode } from './entry-format.js'
import { canonicalFromLinear, halfBits, linearFromCanonical } from './paging-mode.js'
import type { PagingMode } from './paging-mode.js'
import { PageTableCache } from './table-cache.js'
import type { TableWords } from './table-cache.js'
import { readTablePages, TABLE_PAGE_BYTES } from './table-reader.js'
import { rootFromDtb } from './translator.js'

/** [start, end) in canonical virtual addresses. */
export interface VirtualRange {
  readonly start: bigint
  readonly end: bigint
}

/** A run of pages: same shape as the OS layer's PhysMapEntry. */
export interface MappingRun {
  readonly virt: VirtAddr
  readonly phys: PhysAddr
  readonly sizeBytes: bigint
  readonly writable: boolean
  readonly user: boolean
  readonly executable: boolean
}

export interface WalkMappingsOptions {
  /** Most present entries (tables and pages) to examine; default DEFAULT_MAX_ENTRIES. */
  maxEntries?: number
  /** Throw a 'limit' error instead of returning a truncated walk. */
  strict?: boolean
  /** Merge adjacent pages into runs (default true); false gives one run per page-table leaf. */
  merge?: boolean
  /** Table pages cache; default a private one for this walk. */
  tableCache?: PageTableCache
  /** Split-root modes (AArch64): the TTBR1 root of the upper half. */
  upperDtb?: PhysAddr
}

export interface MappingWalk {
  readonly runs: MappingRun[]
  /** True when maxEntries stopped the walk; runs are then complete only below truncatedAt. */
  readonly truncated: boolean
  readonly truncatedAt: VirtAddr | undefined
  readonly entriesVisited: number
  /** Entries skipped as garbage: reserved bits, tables beyond memory, unreadable tables. */
  readonly badEntries: number
  /** The first few problems, for diagnostics. */
  readonly problems: readonly string[]
}

export const DEFAULT_MAX_ENTRIES = 1 << 20
const MAX_PROBLEMS = 16

class MappingWalker {
  readonly runVpn: number[] = []
  readonly runPages: number[] = []
  readonly runPhys: number[] = []
  readonly runFlags: number[] = []
  entriesVisited = 0
  badEntries = 0
  readonly problems: string[] = []
  stoppedAtVpn: number | undefined
  private readonly halfVpn: number

  constructor(
    readonly mem: PhysicalMemory,
    readonly c: CompiledMode,
    readonly cache: PageTableCache,
    readonly startVpn: number,
    readonly endVpn: number,
    readonly maxEntries: number,
    readonly maxPhys: number,
    readonly merge: boolean,
  ) {
    this.halfVpn = 2 ** (halfBits(c.mode) - c.pageShift)
  }

  bad(message: string): void {
    this.badEntries++
    if (this.problems.length < MAX_PROBLEMS) this.problems.push(message)
  }

  emit(vpn: number, pages: number, phys: number, flags: number): void {
    const last = this.runVpn.length - 1
    if (this.merge && last >= 0 && vpn !== this.halfVpn && this.runFlags[last] === flags
      && this.runVpn[last]! + this.runPages[last]! === vpn && this.runPhys[last]! + this.runPages[last]! * this.c.pageBytes === phys) {
      this.runPages[last] = this.runPages[last]! + pages
      return
    }
    this.runVpn.push(vpn)
    this.runPages.push(pages)
    this.runPhys.push(phys)
    this.runFlags.push(flags)
  }

  /** Visits one table (already read) covering linear pages from baseVpn. */
  async visit(li: number, table: number, words: TableWords, baseVpn: number, pathFlags: number): Promise<void> {
    const c = this.c
    const level = c.levels[li]!
    const span = level.spanPages
    const isLast = li === c.levels.length - 1
    const from = Math.max(0, Math.floor((this.startVpn - baseVpn) / span))
    const to = Math.min(level.entries - 1, Math.floor((this.endVpn - 1 - baseVpn) / span))
    // Fetch every child table of this table in one batch.
    const children = new Map<number, TableWords | MemweaveError>()
    if (!isLast) {
      const wanted = new Set<number>()
      for (let j = from; j <= to; j++) {
        const lo = words[2 * j]!
        const hi = words[2 * j + 1]!
        if (!hasBit(c.present, lo, hi) || isLargeEntry(c, lo, hi)) continue
        const address = entryAddress(c, lo, hi)
        if (address + c.pageBytes <= this.maxPhys) wanted.add(address)
      }
      const list = [...wanted]
      const views = list.length > 0 ? await readTables(this.mem, this.cache, list, c.pageBytes) : []
      list.forEach((address, k) => children.set(address, views[k]!))
    }
    for (let j = from; j <= to; j++) {
      const lo = words[2 * j]!
      const hi = words[2 * j + 1]!
      if (!hasBit(c.present, lo, hi)) continue
      const vpn = baseVpn + j * span
      if (++this.entriesVisited > this.maxEntries) { this.stoppedAtVpn = vpn; return }
      const large = !isLast && isLargeEntry(c, lo, hi)
      const flags = pathFlags & (isLast || large ? entryFlags(c, lo, hi) : tableFlags(c, lo, hi))
      const address = entryAddress(c, lo, hi)
      const where = `${level.name} entry ${j} of table at physical ${hex(table)}`
      if (isLast) { if (isValidLastEntry(c, lo, hi)) this.emit(vpn, 1, address, flags); continue }
      if (large) {
        const base = level.largePageBytes > 0 ? largePageBase(c, address, level.largePageBytes) : -1
        if (base < 0) this.bad(`${where}: reserved bits set`)
        else this.emit(vpn, span, base, flags)
        continue
      }
      const child = children.get(address)
      if (child === undefined) { this.bad(`${where}: table at physical ${hex(address)} is beyond the end of physical memory`); continue }
      if (child instanceof MemweaveError) { this.bad(`${where}: cannot read table at physical ${hex(address)}: ${child.message}`); continue }
      await this.visit(li + 1, address, child, vpn, flags)
      if (this.stoppedAtVpn !== undefined) return
    }
  }

  /** Runs as canonical addresses, clipped to [start, end). */
  runs(start: bigint, end: bigint): MappingRun[] {
    const out: MappingRun[] = []
    const shift = BigInt(this.c.pageShift)
    for (let k = 0; k < this.runVpn.length; k++) {
      let virt = canonicalFromLinear(this.c.mode, BigInt(this.runVpn[k]!) << shift)
      let phys = BigInt(this.runPhys[k]!)
      let size = BigInt(this.runPages[k]!) << shift
      if (virt < start) { const cut = start - virt; virt += cut; phys += cut; size -= cut }
      if (virt + size > end) size = end - virt
      if (size <= 0n) continue
      const flags = this.runFlags[k]!
      out.push({
        virt: virtAddr(virt),
        phys: physAddr(phys),
        sizeBytes: size,
        writable: (flags & FLAG_WRITABLE) !== 0,
        user: (flags & FLAG_USER) !== 0,
        executable: (flags & FLAG_EXECUTABLE) !== 0,
      })
    }
    return out
  }
}

/**
 * Whole tables of `tableBytes` (16 and 64 KiB granules span several cached
 * 4 KiB table pages, read in one batch and joined).
 */
async function readTables(mem: PhysicalMemory, cache: PageTableCache, tables: readonly number[], tableBytes: number): Promise<(TableWords | MemweaveError)[]> {
  const chunks = Math.max(1, Math.ceil(tableBytes / TABLE_PAGE_BYTES))
  if (chunks === 1) return readTablePages(mem, cache, tables)
  const pages = tables.flatMap((t) => Array.from({ length: chunks }, (_, k) => t + k * TABLE_PAGE_BYTES))
  const views = await readTablePages(mem, cache, pages)
  return tables.map((_, i) => {
    const parts = views.slice(i * chunks, (i + 1) * chunks)
    const failed = parts.find((p) => p instanceof MemweaveError)
    if (failed !== undefined) return failed
    const joined = new Uint32Array(chunks * (TABLE_PAGE_BYTES / 4))
    parts.forEach((p, k) => { if (!(p instanceof MemweaveError) && p !== undefined) joined.set(p, k * (TABLE_PAGE_BYTES / 4)) })
    return joined
  })
}

/**
 * Enumerates the mappings of the page tables at `dtb`, optionally only those
 * overlapping `range`, in ascending virtual order.
 */
export async function walkMappings(mem: PhysicalMemory, dtb: PhysAddr, mode: PagingMode, range?: VirtualRange, options: WalkMappingsOptions = {}): Promise<MappingWalk> {
  const start = range?.start ?? 0n
  const end = range?.end ?? 1n << 64n
  if (mode.splitRoots === true) {
    // TTBR0 below the hole, TTBR1 above it (the same root when no upperDtb): two walks, each from its own root.
    const upperStart = (1n << 64n) - (1n << BigInt(halfBits(mode)))
    const { upperDtb: upperRoot, ...rest } = options
    const upperDtb = upperRoot ?? dtb
    // the TTBR1 root's first entry maps the upper region's first linear page
    const upperBase = 2 ** (halfBits(mode) - compileMode(mode).pageShift)
    if (start >= upperStart) return walkFromRoot(mem, upperDtb, mode, { start, end }, rest, upperBase)
    const lowerEnd = 1n << BigInt(halfBits(mode))
    if (end <= lowerEnd) return walkFromRoot(mem, dtb, mode, { start, end }, rest, 0)
    const lower = await walkFromRoot(mem, dtb, mode, { start, end: lowerEnd }, rest, 0)
    if (lower.truncated) return lower
    const upper = await walkFromRoot(mem, upperDtb, mode, { start: upperStart, end }, { ...rest, maxEntries: (rest.maxEntries ?? DEFAULT_MAX_ENTRIES) - lower.entriesVisited }, upperBase)
    return {
      runs: [...lower.runs, ...upper.runs], truncated: upper.truncated, truncatedAt: upper.truncatedAt,
      entriesVisited: lower.entriesVisited + upper.entriesVisited, badEntries: lower.badEntries + upper.badEntries, problems: [...lower.problems, ...upper.problems],
    }
  }
  return walkFromRoot(mem, dtb, mode, range, options, 0)
}

/** One root's walk; `rootBaseVpn` is the linear page its first entry maps (non-zero for a TTBR1 root). */
async function walkFromRoot(mem: PhysicalMemory, dtb: PhysAddr, mode: PagingMode, range: VirtualRange | undefined, options: WalkMappingsOptions, rootBaseVpn: number): Promise<MappingWalk> {
  const c = compileMode(mode)
  const start = range?.start ?? 0n
  const end = range?.end ?? 1n << 64n
  const maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES
  const empty: MappingWalk = { runs: [], truncated: false, truncatedAt: undefined, entriesVisited: 0, badEntries: 0, problems: [] }
  if (start >= end) return empty
  const shift = BigInt(c.pageShift)
  const startVpn = Number(linearFromCanonical(mode, start) >> shift)
  const endLinear = linearFromCanonical(mode, end)
  const endVpn = Number((endLinear + BigInt(c.pageBytes - 1)) >> shift)
  if (startVpn >= endVpn) return empty
  const maxAddress = mem.metadata().maxAddress
  const maxPhys = maxAddress >= 1n << 53n ? 2 ** 53 : Number(maxAddress)
  const cache = options.tableCache ?? new PageTableCache({ maxEntries: 4096 })
  const walker = new MappingWalker(mem, c, cache, startVpn, endVpn, maxEntries, maxPhys, options.merge ?? true)
  const root = rootFromDtb(mode, dtb)
  if (root + 8 > maxPhys) {
    throw new MemweaveError('arch', 'out_of_bounds', `page-table root ${hex(dtb)} is beyond the end of physical memory (${hex(maxAddress)})`)
  }
  const [rootWords] = await readTables(mem, cache, [root], c.levels[0]!.entries * c.entryBytes)
  if (rootWords === undefined || rootWords instanceof MemweaveError) {
    throw new MemweaveError('arch', rootWords?.kind ?? 'internal', `cannot read page-table root at physical ${hex(root)}`, { cause: rootWords })
  }
  await walker.visit(0, root, rootWords, rootBaseVpn, ALL_FLAGS)
  const truncatedAt = walker.stoppedAtVpn === undefined ? undefined : virtAddr(canonicalFromLinear(mode, BigInt(walker.stoppedAtVpn) << shift))
  if (truncatedAt !== undefined && options.strict === true) {
    throw new MemweaveError('arch', 'limit', `page-table walk at ${hex(dtb)} stopped after ${maxEntries} entries at virtual ${hex(truncatedAt)}; raise maxEntries or narrow the range`)
  }
  return {
    runs: walker.runs(start, end),
    truncated: truncatedAt !== undefined,
    truncatedAt,
    entriesVisited: Math.min(walker.entriesVisited, maxEntries),
    badEntries: walker.badEntries,
    problems: walker.problems,
  }
}
