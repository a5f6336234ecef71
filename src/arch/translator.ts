/**
 * Batched virtual-to-physical translation for one address space (one page
 * table root): the translation cache answers what it can, the walker does the
 * rest in one pass, and results come back per address. translateBatch is the
 * stateless form; VirtualAddressSpace keeps a PageTranslator with caches.
 */
import { MemweaveError } from '../errors/index.js'
import { physAddr } from '../mem/index.js'
import type { PhysAddr, PhysicalMemory, VirtAddr } from '../mem/index.js'
import { compileMode, FLAG_EXECUTABLE, FLAG_USER, FLAG_WRITABLE } from './entry-format.js'
import type { CompiledMode } from './entry-format.js'
import { groupPages } from './page-grouping.js'
import { walkPages, WalkFailure } from './page-walk.js'
import type { PageOutcome } from './page-walk.js'
import { halfBits, isCanonical, nonCanonicalError } from './paging-mode.js'
import type { PagingMode } from './paging-mode.js'
import type { PageTableCache, TranslationCache } from './table-cache.js'
import { cachedReader, directReader, TABLE_PAGE_BYTES } from './table-reader.js'
import type { TableReader } from './table-reader.js'

export type Translation =
  | {
    readonly ok: true
    readonly phys: PhysAddr
    /** Size of the page the address lies in: 4096, 2 MiB or 1 GiB. */
    readonly pageSize: number
    readonly writable: boolean
    readonly user: boolean
    readonly executable: boolean
  }
  | { readonly ok: false; readonly error: MemweaveError }

export interface TranslatorOptions {
  /** Whole table pages; without one, only the needed entries are read. Share it between address spaces of one memory. */
  tableCache?: PageTableCache
  /** A TLB for this address space. */
  translationCache?: TranslationCache
  /** Split-root modes (AArch64 TTBR1): the root of the upper half; default the same root. */
  upperDtb?: PhysAddr
}

const MAX_EXACT = 2 ** 53
/** How many distinct table pages a translator remembers for write invalidation. */
const TABLE_PAGES_TRACKED = 1 << 16

/** The root table's physical address from a CR3- or TTBR-style value (PCID/ASID and flag bits dropped). */
export function rootFromDtb(mode: PagingMode, dtb: bigint): number {
  const mask = ((1n << BigInt((mode.rootHighBit ?? mode.addressHighBit) + 1)) - 1n) & ~((1n << BigInt(mode.rootLowBit ?? mode.addressLowBit)) - 1n)
  return Number(dtb & mask)
}

export class PageTranslator {
  readonly compiled: CompiledMode
  readonly root: number
  /** Where upper-half walks start (split-root modes), undefined when one root serves both halves. */
  private readonly upper: { readonly root: number; readonly fromVpn: number } | undefined
  private readonly reader: TableReader
  private readonly shift: bigint
  private readonly offsetMask: bigint
  /** Below this, Number(virt) is exact (2^47 for 4-level; 2^53 under LA57). */
  private readonly exactEnd: bigint
  /** First page number past the lower canonical half. */
  readonly halfVpn: number

  constructor(readonly mem: PhysicalMemory, readonly dtb: PhysAddr, readonly mode: PagingMode, readonly options: TranslatorOptions = {}) {
    this.compiled = compileMode(mode)
    this.root = rootFromDtb(mode, dtb)
    const reader = options.tableCache !== undefined ? cachedReader(mem, options.tableCache) : directReader(mem)
    this.reader = { readEntries: (entryAddrs) => { this.noteTables(entryAddrs); return reader.readEntries(entryAddrs) } }
    this.shift = BigInt(this.compiled.pageShift)
    this.offsetMask = BigInt(this.compiled.pageBytes - 1)
    const lowHalfEnd = 1n << BigInt(halfBits(mode))
    this.exactEnd = lowHalfEnd < 1n << 53n ? lowHalfEnd : 1n << 53n
    this.halfVpn = 2 ** (halfBits(mode) - this.compiled.pageShift)
    // Upper-half page numbers are Number(virt >> shift): at least 2^(64 - shift) - halfVpn.
    this.upper = mode.splitRoots === true && options.upperDtb !== undefined
      ? { root: rootFromDtb(mode, options.upperDtb), fromVpn: 2 ** (64 - this.compiled.pageShift) - this.halfVpn }
      : undefined
  }

  /** Table pages this translator has read entries from, so a write into one can drop stale translations. */
  private readonly tablePages = new Set<number>()
  /** Set when more tables than TABLE_PAGES_TRACKED were seen: every write is then assumed to touch one. */
  private tablesUntracked = false

  private noteTables(entryAddrs: readonly number[]): void {
    if (this.tablesUntracked) return
    let previous = -1
    for (const addr of entryAddrs) {
      const page = addr - (addr % TABLE_PAGE_BYTES)
      if (page !== previous) { this.tablePages.add(page); previous = page }
    }
    if (this.tablePages.size > TABLE_PAGES_TRACKED) { this.tablesUntracked = true; this.tablePages.clear() }
  }

  /** Whether [phys, phys+length) may overlap a page table this translator walked. */
  touchesTables(phys: number, length: number): boolean {
    if (this.tablesUntracked) return true
    for (let page = phys - (phys % TABLE_PAGE_BYTES); page < phys + length; page += TABLE_PAGE_BYTES) if (this.tablePages.has(page)) return true
    return false
  }

  /** One past the highest readable physical address, as an exact number. */
  maxPhys(): number {
    const max = this.mem.metadata().maxAddress
    return max >= BigInt(MAX_EXACT) ? MAX_EXACT : Number(max)
  }

  /** Translates distinct canonical page numbers (virt >> 12): cache first, one walk for the rest. */
  async translatePages(vpns: ArrayLike<number>): Promise<PageOutcome[]> {
    const tlb = this.options.translationCache
    if (tlb === undefined) return walkPages(this.reader, this.compiled, this.root, vpns, this.maxPhys(), this.upper)
    // oxlint-disable-next-line unicorn/no-new-array -- n is a number (typed); filled out of order on the translation path, where Array.from is 10-20x slower
    const out = new Array<PageOutcome>(vpns.length)
    const missVpns: number[] = []
    const missAt: number[] = []
    for (let i = 0; i < vpns.length; i++) {
      const hit = tlb.get(vpns[i]!)
      if (hit !== undefined) out[i] = hit
      else { missVpns.push(vpns[i]!); missAt.push(i) }
    }
    if (missVpns.length === 0) return out
    const walked = await walkPages(this.reader, this.compiled, this.root, missVpns, this.maxPhys(), this.upper)
    for (let k = 0; k < walked.length; k++) {
      const outcome = walked[k]!
      out[missAt[k]!] = outcome
      // Failures are not cached: on live memory the page may be mapped a moment later.
      if (!(outcome instanceof WalkFailure)) tlb.put(missVpns[k]!, outcome)
    }
    return out
  }

  /** Page number of a canonical address, or -1 when it is not canonical. */
  private pageOf(virt: bigint): number {
    // Below 2^53 a double holds the address exactly: one conversion instead of a bigint shift.
    if (virt >= 0n && virt < this.exactEnd) return Math.floor(Number(virt) / this.compiled.pageBytes)
    return isCanonical(this.mode, virt) ? Number(virt >> this.shift) : -1
  }

  private result(virt: VirtAddr, outcome: PageOutcome | undefined, offset: number): Translation {
    if (outcome === undefined) return { ok: false, error: nonCanonicalError(this.mode, virt) }
    if (outcome instanceof WalkFailure) return { ok: false, error: outcome.toError(virt) }
    return {
      ok: true,
      phys: physAddr(outcome.physPage + offset),
      pageSize: outcome.pageBytes,
      writable: (outcome.flags & FLAG_WRITABLE) !== 0,
      user: (outcome.flags & FLAG_USER) !== 0,
      executable: (outcome.flags & FLAG_EXECUTABLE) !== 0,
    }
  }

  /** Translates each address; one result per address, in order. */
  async translate(virts: readonly VirtAddr[]): Promise<Translation[]> {
    const n = virts.length
    if (n === 1) {
      // One address: skip the grouping machinery (single lookups are common).
      const virt = virts[0]!
      const vpn = this.pageOf(virt)
      const outcome = vpn < 0 ? undefined : (await this.translatePages([vpn]))[0]
      return [this.result(virt, outcome, vpn < 0 ? 0 : Number(virt & this.offsetMask))]
    }
    const vpnOf = new Float64Array(n)
    for (let i = 0; i < n; i++) vpnOf[i] = this.pageOf(virts[i]!)
    // Distinct pages in ascending order: the walker groups shared entries by neighbours.
    const { distinct, slotOf } = groupPages(vpnOf, this.halfVpn, 2 ** (64 - this.compiled.pageShift))
    const outcomes = await this.translatePages(distinct)
    const pageBytes = this.compiled.pageBytes
    return virts.map((virt, i) => {
      const slot = slotOf[i]!
      // The offset from the exact double when it is one, else from the bigint.
      const offset = slot < 0 ? 0 : virt < this.exactEnd ? Number(virt) - vpnOf[i]! * pageBytes : Number(virt & this.offsetMask)
      return this.result(virt, slot < 0 ? undefined : outcomes[slot], offset)
    })
  }
}

/**
 * Translates a batch of virtual addresses through the page tables at `dtb`.
 * Each walk level is one mem.read of the distinct entries the batch needs.
 */
export function translateBatch(mem: PhysicalMemory, dtb: PhysAddr, mode: PagingMode, virts: readonly VirtAddr[], options?: TranslatorOptions): Promise<Translation[]> {
  return new PageTranslator(mem, dtb, mode, options).translate(virts)
}
