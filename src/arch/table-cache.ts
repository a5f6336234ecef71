/**
 * The two translation caches. PageTableCache keeps whole page-table pages
 * (shareable by every address space on one physical memory: kernel tables
 * are shared); TranslationCache is a TLB for one address space. Both are
 * bounded LRUs with a validity strategy and an explicit invalidate().
 *
 * Why not src/mem PageCache as middleware for table reads: it keys pages by
 * bigint and copies every piece it returns, while the walker wants entries as
 * plain numbers straight out of the cached page, and must drop cached table
 * pages when a write through a virtual address space lands on them.
 */
import { FOREVER, timedValidity, LruMap } from '../mem/index.js'
import type { CacheValidity, MemMetadata } from '../mem/index.js'
import type { PageMapping } from './entry-format.js'

export interface CacheOptions {
  /** Upper bound on entries (table pages or translations). */
  maxEntries?: number
  /** When an entry expires; defaults to validityFor(memory metadata). */
  validity?: CacheValidity
}

/** How long cached tables and translations stay valid on live memory. */
export const LIVE_CACHE_MS = 1000

/** Forever for memory that cannot change (dumps), LIVE_CACHE_MS for volatile sources. */
export function validityFor(meta: MemMetadata): CacheValidity {
  return meta.volatile ? timedValidity(LIVE_CACHE_MS) : FOREVER
}

export interface CacheStats {
  readonly entries: number
  readonly maxEntries: number
  readonly hits: number
  readonly misses: number
}

const TABLE_PAGE_BYTES = 4096
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1

/**
 * A table page as 32-bit words: entry j is words[2j] (low) and words[2j+1]
 * (high). Entries are little-endian in memory; on a big-endian host the
 * words are decoded one by one instead of reinterpreted.
 */
export type TableWords = Uint32Array

function toWords(data: Uint8Array): TableWords {
  const copy = data.slice(0, TABLE_PAGE_BYTES)
  if (LITTLE_ENDIAN_HOST) return new Uint32Array(copy.buffer)
  const view = new DataView(copy.buffer)
  return Uint32Array.from({ length: TABLE_PAGE_BYTES / 4 }, (_, i) => view.getUint32(i * 4, true))
}

export class PageTableCache {
  private readonly pages: LruMap<TableWords>

  /** Default bound: 1024 pages (4 MiB). */
  constructor(options: CacheOptions = {}) {
    this.pages = new LruMap(options.maxEntries ?? 1024, options.validity ?? FOREVER)
  }

  get(pagePhys: number): TableWords | undefined {
    return this.pages.get(pagePhys)
  }

  /** Stores a copy (the source may reuse its buffer) as entry words and returns it. */
  put(pagePhys: number, data: Uint8Array): TableWords {
    const words = toWords(data)
    this.pages.set(pagePhys, words)
    return words
  }

  /** Drops cached pages overlapping [phys, phys+length); returns how many were cached. */
  invalidateRange(phys: number, length: number): number {
    let dropped = 0
    const first = phys - (phys % TABLE_PAGE_BYTES)
    for (let page = first; page < phys + length; page += TABLE_PAGE_BYTES) if (this.pages.delete(page)) dropped++
    return dropped
  }

  invalidate(): void {
    this.pages.clear()
  }

  stats(): CacheStats {
    return { entries: this.pages.size, maxEntries: this.pages.maxEntries, hits: this.pages.hits, misses: this.pages.misses }
  }
}

/** A TLB: one per address space (page-table root); never share one between roots. */
export class TranslationCache {
  private readonly entries: LruMap<PageMapping>

  /** Default bound: 65536 translations. Keys are virtual page numbers (< 2^53). */
  constructor(options: CacheOptions = {}) {
    this.entries = new LruMap(options.maxEntries ?? 65536, options.validity ?? FOREVER)
  }

  get(vpn: number): PageMapping | undefined {
    return this.entries.get(vpn)
  }

  put(vpn: number, mapping: PageMapping): void {
    this.entries.set(vpn, mapping)
  }

  invalidate(): void {
    this.entries.clear()
  }

  stats(): CacheStats {
    return { entries: this.entries.size, maxEntries: this.entries.maxEntries, hits: this.entries.hits, misses: this.entries.misses }
  }
}
