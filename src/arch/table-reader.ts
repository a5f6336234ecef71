/**
 * How the walker gets page-table entries: one batch per call, so one walk
 * level costs exactly one mem.read. Without a cache only the distinct 8-byte
 * entries are read; with a PageTableCache whole table pages are read once and
 * entries come out of the cached pages.
 */
import { MemweaveError } from '../errors/index.js'
import { hex, physAddr } from '../mem/index.js'
import type { PhysicalMemory, PieceResult } from '../mem/index.js'
import type { PageTableCache, TableWords } from './table-cache.js'

export interface EntryBatch {
  /** Low and high 32-bit words of each requested entry (0 where it failed). */
  readonly lo: Uint32Array
  readonly hi: Uint32Array
  /** Per entry, why it could not be read; undefined when every entry was read. */
  readonly errors: (MemweaveError | undefined)[] | undefined
}

export interface TableReader {
  /** Reads 8-byte entries at these physical addresses (distinct, table-aligned to 8). */
  readEntries(entryAddrs: readonly number[]): Promise<EntryBatch>
}

export const TABLE_PAGE_BYTES = 4096

type GoodRead = { readonly ok: true; readonly data: Uint8Array }

function isGood(result: PieceResult | undefined, length: number): result is GoodRead {
  return result !== undefined && result.ok && result.data.length >= length
}

/** Why a read that is not good failed. */
function readFailure(result: PieceResult | undefined, addr: number, length: number): MemweaveError {
  if (result === undefined) return new MemweaveError('arch', 'internal', `read of ${length} bytes at physical ${hex(addr)} returned no result`)
  if (!result.ok) return result.error
  return new MemweaveError('arch', 'io', `short read at physical ${hex(addr)}: ${result.data.length} of ${length} bytes`)
}

/** Reads just the entries asked for: the right choice without a cache (8 bytes instead of 4 KiB each). */
export function directReader(mem: PhysicalMemory): TableReader {
  return {
    async readEntries(entryAddrs) {
      const n = entryAddrs.length
      const lo = new Uint32Array(n)
      const hi = new Uint32Array(n)
      let errors: (MemweaveError | undefined)[] | undefined
      if (n === 0) return { lo, hi, errors }
      const results = await mem.read(entryAddrs.map((addr) => ({ addr: physAddr(addr), length: 8 })))
      for (let i = 0; i < n; i++) {
        const result = results[i]
        if (!isGood(result, 8)) {
          errors ??= []
          errors[i] = readFailure(result, entryAddrs[i]!, 8)
          continue
        }
        const d = result.data
        lo[i] = (d[0]! | d[1]! << 8 | d[2]! << 16 | d[3]! << 24) >>> 0
        hi[i] = (d[4]! | d[5]! << 8 | d[6]! << 16 | d[7]! << 24) >>> 0
      }
      return { lo, hi, errors }
    },
  }
}

/**
 * Whole table pages for these physical page addresses: cache hits first, then
 * one mem.read for every miss. Each result is the page or why it failed.
 */
export async function readTablePages(mem: PhysicalMemory, cache: PageTableCache, pages: readonly number[]): Promise<(TableWords | MemweaveError)[]> {
  // oxlint-disable-next-line unicorn/no-new-array -- n is a number (typed); filled out of order on the translation path, where Array.from is 10-20x slower
  const out = new Array<TableWords | MemweaveError>(pages.length)
  const missing: number[] = []
  for (let i = 0; i < pages.length; i++) {
    const view = cache.get(pages[i]!)
    if (view === undefined) missing.push(i)
    else out[i] = view
  }
  if (missing.length === 0) return out
  // A page may be listed twice (aliased tables): read it once.
  const readAt = new Map<number, number>()
  const toRead: number[] = []
  for (const i of missing) if (!readAt.has(pages[i]!)) { readAt.set(pages[i]!, toRead.length); toRead.push(pages[i]!) }
  const results = await mem.read(toRead.map((page) => ({ addr: physAddr(page), length: TABLE_PAGE_BYTES })))
  const views = toRead.map((page, k) => {
    const result = results[k]
    return isGood(result, TABLE_PAGE_BYTES) ? cache.put(page, result.data) : readFailure(result, page, TABLE_PAGE_BYTES)
  })
  for (const i of missing) out[i] = views[readAt.get(pages[i]!)!]!
  return out
}

/** Reads entries out of whole table pages kept in a PageTableCache. */
export function cachedReader(mem: PhysicalMemory, cache: PageTableCache): TableReader {
  return {
    async readEntries(entryAddrs) {
      const n = entryAddrs.length
      const lo = new Uint32Array(n)
      const hi = new Uint32Array(n)
      let errors: (MemweaveError | undefined)[] | undefined
      // Table pages of this level; entries of one table arrive together (sorted walk).
      const pages: number[] = []
      const slotOf = new Int32Array(n)
      let previous = -1
      for (let i = 0; i < n; i++) {
        const addr = entryAddrs[i]!
        const page = addr - (addr % TABLE_PAGE_BYTES)
        if (page !== previous) { pages.push(page); previous = page }
        slotOf[i] = pages.length - 1
      }
      const views = await readTablePages(mem, cache, pages)
      for (let i = 0; i < n; i++) {
        const words = views[slotOf[i]!]
        if (words === undefined || words instanceof MemweaveError) {
          errors ??= []
          errors[i] = words ?? new MemweaveError('arch', 'internal', 'missing table page')
          continue
        }
        const word = (entryAddrs[i]! % TABLE_PAGE_BYTES) >>> 2
        lo[i] = words[word]!
        hi[i] = words[word + 1]!
      }
      return { lo, hi, errors }
    },
  }
}
