/**
 * A sorted, non-overlapping map of address ranges to backing offsets: the
 * sparse physical layout of a dump or a VM. Lookups are binary searches.
 */
import { MemweaveError } from '../errors/index.js'

export interface MappedRange {
  /** First address covered. */
  readonly start: bigint
  /** Length in bytes. */
  readonly length: bigint
  /** Where the bytes are in the backing store (file offset, host address, ...). */
  readonly backing: bigint
}

export interface RangeSegment {
  readonly addr: bigint
  readonly length: number
  /** Backing offset, or undefined for a gap. */
  readonly backing: bigint | undefined
}

export class RangeMap {
  readonly ranges: readonly MappedRange[]
  readonly maxAddress: bigint

  constructor(ranges: readonly MappedRange[]) {
    const sorted = [...ranges].filter((r) => r.length > 0n).sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0))
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1]!
      const cur = sorted[i]!
      if (prev.start + prev.length > cur.start) {
        throw new MemweaveError('mem', 'malformed',
          `overlapping ranges 0x${prev.start.toString(16)}+0x${prev.length.toString(16)} and 0x${cur.start.toString(16)}`)
      }
    }
    this.ranges = sorted
    const last = sorted[sorted.length - 1]
    this.maxAddress = last === undefined ? 0n : last.start + last.length
  }

  /** Index of the range containing addr, or of the first range after it (may be ranges.length). */
  private search(addr: bigint): number {
    let lo = 0
    let hi = this.ranges.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      const r = this.ranges[mid]!
      if (r.start + r.length <= addr) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  /** Splits [addr, addr+length) into mapped segments and gaps, in order. */
  segments(addr: bigint, length: number): RangeSegment[] {
    const out: RangeSegment[] = []
    let cursor = addr
    const end = addr + BigInt(length)
    let index = this.search(addr)
    while (cursor < end) {
      const r = this.ranges[index]
      if (r === undefined || r.start >= end) {
        out.push({ addr: cursor, length: Number(end - cursor), backing: undefined })
        break
      }
      if (r.start > cursor) {
        out.push({ addr: cursor, length: Number(r.start - cursor), backing: undefined })
        cursor = r.start
      }
      const segEnd = r.start + r.length < end ? r.start + r.length : end
      out.push({ addr: cursor, length: Number(segEnd - cursor), backing: r.backing + (cursor - r.start) })
      cursor = segEnd
      index++
    }
    return out
  }

  contains(addr: bigint): boolean {
    const r = this.ranges[this.search(addr)]
    return r !== undefined && r.start <= addr
  }

  totalBytes(): bigint {
    return this.ranges.reduce((sum, r) => sum + r.length, 0n)
  }
}
