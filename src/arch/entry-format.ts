/**
 * A paging mode compiled for the hot path: bit positions become 32-bit masks
 * over an entry's low and high words, and levels become divisors over page
 * numbers. Physical addresses are below 2^52 and page numbers below 2^53, so
 * plain numbers hold them exactly; bigints stay at the module boundary.
 */
import { MemweaveError } from '../errors/index.js'
import type { PagingMode } from './paging-mode.js'

export interface CompiledLevel {
  readonly name: string
  /** Base pages covered by one entry: index = floor(vpn / spanPages) % entries. */
  readonly spanPages: number
  readonly entries: number
  /** Bytes of a large page mapped here, 0 where the large-page bit is reserved. */
  readonly largePageBytes: number
}

/** A flag bit as masks over the low and high 32-bit words of an entry. */
export interface WordMask {
  readonly lo: number
  readonly hi: number
}

export interface CompiledMode {
  readonly mode: PagingMode
  readonly levels: readonly CompiledLevel[]
  readonly pageBytes: number
  readonly pageShift: number
  readonly entryBytes: number
  readonly present: WordMask
  readonly writable: WordMask
  readonly user: WordMask
  readonly largePage: WordMask
  readonly noExecute: WordMask
  /** Set bits that make an entry read-only (AArch64 AP[2]); zero masks on x86. */
  readonly readOnly: WordMask
  readonly largeWhenClear: boolean
  readonly leafPermissionsOnly: boolean
  /** Value the large-page PAT bit adds to the decoded address (0: no PAT bit). */
  readonly patValue: number
  readonly addrLoMask: number
  readonly addrHiMask: number
  /** 52-bit output addresses: mask over the low word, and the factor that moves those bits to their place. */
  readonly extraLoMask: number
  readonly extraFactor: number
}

/** Permission flags of a translation, ANDed (writable, user) or ORed (no-execute) over the levels. */
export const FLAG_WRITABLE = 1
export const FLAG_USER = 2
export const FLAG_EXECUTABLE = 4
export const ALL_FLAGS = FLAG_WRITABLE | FLAG_USER | FLAG_EXECUTABLE

const TWO_32 = 2 ** 32
const compiled = new WeakMap<PagingMode, CompiledMode>()

function wordMask(bit: number | readonly number[] | undefined): WordMask {
  if (bit === undefined || bit === -1) return { lo: 0, hi: 0 }
  if (typeof bit !== 'number') return bit.map((b) => wordMask(b)).reduce((a, b) => ({ lo: (a.lo | b.lo) >>> 0, hi: (a.hi | b.hi) >>> 0 }), { lo: 0, hi: 0 })
  return bit < 32 ? { lo: (1 << bit) >>> 0, hi: 0 } : { lo: 0, hi: (1 << (bit - 32)) >>> 0 }
}

/** Mask of bits low..high (inclusive) within one 32-bit word whose lowest bit is `base`. */
function rangeMask(low: number, high: number, base: number): number {
  let mask = 0
  for (let bit = Math.max(low, base); bit <= Math.min(high, base + 31); bit++) mask = (mask | (1 << (bit - base))) >>> 0
  return mask
}

export function compileMode(mode: PagingMode): CompiledMode {
  const cached = compiled.get(mode)
  if (cached !== undefined) return cached
  const pageShift = Math.log2(mode.pageBytes)
  if (mode.entryBytes !== 8 || !Number.isInteger(pageShift) || mode.addressHighBit > 52 || mode.levels.length === 0) {
    throw new MemweaveError('arch', 'unsupported', `paging mode ${mode.name}: only 8-byte entries, power-of-two pages and addresses below 2^53 are supported`)
  }
  const levels = mode.levels.map((level): CompiledLevel => ({
    name: level.name,
    spanPages: 2 ** (level.indexShift - pageShift),
    entries: 2 ** level.indexBits,
    largePageBytes: level.largePageBytes ?? 0,
  }))
  const result: CompiledMode = {
    mode,
    levels,
    pageBytes: mode.pageBytes,
    pageShift,
    entryBytes: mode.entryBytes,
    present: wordMask(mode.bits.present),
    writable: wordMask(mode.bits.writable),
    user: wordMask(mode.bits.user),
    largePage: wordMask(mode.bits.largePage),
    noExecute: wordMask(mode.bits.noExecute),
    readOnly: wordMask(mode.bits.readOnly),
    largeWhenClear: mode.bits.largePageWhenClear === true,
    leafPermissionsOnly: mode.bits.leafPermissionsOnly === true,
    patValue: mode.bits.largePagePat < 0 ? 0 : 2 ** mode.bits.largePagePat,
    addrLoMask: rangeMask(mode.addressLowBit, mode.addressHighBit, 0),
    addrHiMask: rangeMask(mode.addressLowBit, mode.addressHighBit, 32),
    extraLoMask: mode.extraAddress === undefined ? 0 : rangeMask(mode.extraAddress.lowBit, mode.extraAddress.highBit, 0),
    extraFactor: mode.extraAddress === undefined ? 0 : 2 ** (mode.extraAddress.toBit - mode.extraAddress.lowBit),
  }
  compiled.set(mode, result)
  return result
}

export function hasBit(mask: WordMask, lo: number, hi: number): boolean {
  return ((lo & mask.lo) | (hi & mask.hi)) !== 0
}

/** Physical address field of an entry (flags, PAT-free for small pages, keys and ignored bits removed). */
export function entryAddress(c: CompiledMode, lo: number, hi: number): number {
  const address = ((hi & c.addrHiMask) >>> 0) * TWO_32 + ((lo & c.addrLoMask) >>> 0)
  return c.extraFactor === 0 ? address : address + ((lo & c.extraLoMask) >>> 0) * c.extraFactor
}

function hasAllBits(mask: WordMask, lo: number, hi: number): boolean {
  return (mask.lo !== 0 || mask.hi !== 0) && (lo & mask.lo) >>> 0 === mask.lo && (hi & mask.hi) >>> 0 === mask.hi
}

/** Permission flags one leaf entry (page or large page) contributes. */
export function entryFlags(c: CompiledMode, lo: number, hi: number): number {
  const writable = hasBit(c.writable, lo, hi) || ((c.readOnly.lo | c.readOnly.hi) !== 0 && !hasBit(c.readOnly, lo, hi))
  return (writable ? FLAG_WRITABLE : 0)
    | (hasBit(c.user, lo, hi) ? FLAG_USER : 0)
    | (hasAllBits(c.noExecute, lo, hi) ? 0 : FLAG_EXECUTABLE)
}

/** Permission flags a table entry passes down (all of them where tables carry none). */
export function tableFlags(c: CompiledMode, lo: number, hi: number): number {
  return c.leafPermissionsOnly ? ALL_FLAGS : entryFlags(c, lo, hi)
}

/** At an upper level: does this present entry map a large page (block) rather than point to a table? */
export function isLargeEntry(c: CompiledMode, lo: number, hi: number): boolean {
  return hasBit(c.largePage, lo, hi) !== c.largeWhenClear
}

/** At the last level: is this present entry a valid page (AArch64 needs the page bit set)? */
export function isValidLastEntry(c: CompiledMode, lo: number, hi: number): boolean {
  return !c.largeWhenClear || hasBit(c.largePage, lo, hi)
}

/**
 * Decodes a large-page entry's base address: drops the PAT bit and returns
 * -1 when reserved address bits below the page size are set.
 */
export function largePageBase(c: CompiledMode, address: number, largePageBytes: number): number {
  const base = c.patValue !== 0 && address % (2 * c.patValue) >= c.patValue ? address - c.patValue : address
  return base % largePageBytes === 0 ? base : -1
}

/** One translated base page: where it lives physically and what it allows. */
export interface PageMapping {
  /** Physical address of the base page (inside its large page, if any). */
  readonly physPage: number
  /** Size of the page the walk ended on (4 KiB, 2 MiB or 1 GiB on x86-64). */
  readonly pageBytes: number
  /** FLAG_WRITABLE | FLAG_USER | FLAG_EXECUTABLE. */
  readonly flags: number
}
