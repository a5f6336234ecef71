/**
 * The one generic page walker. It translates a whole batch of virtual page
 * numbers level by level: at each level the addresses still walking are
 * grouped by the table entry they need, each distinct entry is read once, and
 * the level costs one TableReader call (one mem.read). The paging mode is
 * data (paging-mode.ts); this file never names an x86 bit.
 */
import { MemweaveError } from '../errors/index.js'
import type { ErrorKind } from '../errors/index.js'
import { hex } from '../mem/index.js'
import { ALL_FLAGS, entryAddress, entryFlags, hasBit, isLargeEntry, isValidLastEntry, largePageBase, tableFlags } from './entry-format.js'
import type { CompiledLevel, CompiledMode, PageMapping } from './entry-format.js'
import type { TableReader } from './table-reader.js'

/**
 * Why a page did not translate, without the address: the caller names the
 * exact virtual address it was asked about (a piece's first unmapped byte,
 * not the page base).
 */
export class WalkFailure {
  constructor(readonly kind: ErrorKind, readonly detail: string, readonly cause?: MemweaveError) {}

  toError(virt: bigint): MemweaveError {
    return new MemweaveError('arch', this.kind, `virtual address ${hex(virt)}${this.detail}`, { cause: this.cause })
  }
}

export type PageOutcome = PageMapping | WalkFailure

function where(level: CompiledLevel, index: number, table: number): string {
  return `${level.name} entry ${index} (table at physical ${hex(table)})`
}

function sizeText(bytes: number): string {
  return bytes >= 1 << 30 ? `${bytes / (1 << 30)} GiB` : bytes >= 1 << 20 ? `${bytes / (1 << 20)} MiB` : `${bytes / 1024} KiB`
}

/** A table the walk must read lies beyond the end of physical memory. */
function tableOutOfBounds(what: string, table: number, maxPhys: number): WalkFailure {
  return new WalkFailure('out_of_bounds', `: ${what} points to a table at physical ${hex(table)}, beyond the end of physical memory (${hex(maxPhys)})`)
}

/**
 * Translates distinct, canonical virtual page numbers (virt >> pageShift),
 * best given in ascending order (see the grouping below).
 * `root` is the physical address of the root table; `maxPhys` is one past
 * the last readable physical address (tables beyond it are refused unread).
 * Returns one outcome per page number, in order.
 */
export async function walkPages(reader: TableReader, c: CompiledMode, root: number, vpns: ArrayLike<number>, maxPhys: number, upper?: { readonly root: number; readonly fromVpn: number }): Promise<PageOutcome[]> {
  const n = vpns.length
  // oxlint-disable-next-line unicorn/no-new-array -- n is a number (typed); filled out of order on the translation path, where Array.from is 10-20x slower
  const out = new Array<PageOutcome>(n)
  const tables = new Float64Array(n)
  const flags = new Uint8Array(n)
  let active: number[] = []
  for (let i = 0; i < n; i++) {
    // TTBR0/TTBR1: upper-half pages start from their own root
    const start = upper !== undefined && vpns[i]! >= upper.fromVpn ? upper.root : root
    if (start + 8 > maxPhys) { out[i] = tableOutOfBounds('the page-table root', start, maxPhys); continue }
    tables[i] = start
    flags[i] = ALL_FLAGS
    active.push(i)
  }
  const lastLevel = c.levels.length - 1
  for (let li = 0; li <= lastLevel && active.length > 0; li++) {
    const level = c.levels[li]!
    const isLast = li === lastLevel
    // Group addresses by the entry they need. Page numbers arrive sorted, so
    // addresses sharing an entry are neighbours: comparing with the previous
    // one is the whole grouping (unsorted input stays correct, it only reads
    // a repeated entry again).
    const entryAddrs: number[] = []
    const slotOf = new Int32Array(active.length)
    const indexOf = new Int32Array(active.length)
    let previous = -1
    for (let k = 0; k < active.length; k++) {
      const i = active[k]!
      const index = Math.floor(vpns[i]! / level.spanPages) % level.entries
      const addr = tables[i]! + index * c.entryBytes
      if (addr !== previous) { entryAddrs.push(addr); previous = addr }
      slotOf[k] = entryAddrs.length - 1
      indexOf[k] = index
    }
    const batch = await reader.readEntries(entryAddrs)
    const next: number[] = []
    for (let k = 0; k < active.length; k++) {
      const i = active[k]!
      const slot = slotOf[k]!
      const vpn = vpns[i]!
      const table = tables[i]!
      const failure = batch.errors?.[slot]
      if (failure !== undefined) {
        out[i] = new WalkFailure(failure.kind, `: cannot read ${where(level, indexOf[k]!, table)}: ${failure.message}`, failure)
        continue
      }
      const lo = batch.lo[slot]!
      const hi = batch.hi[slot]!
      if (!hasBit(c.present, lo, hi)) {
        out[i] = new WalkFailure('unmapped', ` is not mapped: ${where(level, indexOf[k]!, table)} is not present`)
        continue
      }
      const address = entryAddress(c, lo, hi)
      const large = !isLast && isLargeEntry(c, lo, hi)
      const pathFlags = flags[i]! & (isLast || large ? entryFlags(c, lo, hi) : tableFlags(c, lo, hi))
      if (isLast) {
        if (!isValidLastEntry(c, lo, hi)) { out[i] = new WalkFailure('unmapped', ` is not mapped: ${where(level, indexOf[k]!, table)} is a reserved (invalid) page descriptor`); continue }
        out[i] = { physPage: address, pageBytes: c.pageBytes, flags: pathFlags }
      } else if (large) {
        const base = level.largePageBytes > 0 ? largePageBase(c, address, level.largePageBytes) : -1
        if (base < 0) {
          const why = level.largePageBytes > 0 ? `maps a ${sizeText(level.largePageBytes)} page with reserved address bits set` : 'sets the reserved large-page bit'
          out[i] = new WalkFailure('malformed', `: ${where(level, indexOf[k]!, table)} ${why}`)
          continue
        }
        out[i] = { physPage: base + (vpn % level.spanPages) * c.pageBytes, pageBytes: level.largePageBytes, flags: pathFlags }
      } else if (address + c.pageBytes > maxPhys) {
        out[i] = tableOutOfBounds(where(level, indexOf[k]!, table), address, maxPhys)
      } else {
        tables[i] = address
        flags[i] = pathFlags
        next.push(i)
      }
    }
    active = next
  }
  return out
}
