/**
 * Paging modes as data: x86-64 4-level (PML4, 48-bit virtual addresses) and
 * 5-level (LA57, 57-bit). One generic walker (page-walk.ts) reads these
 * tables; nothing else in the arch layer knows which bit means what.
 */
import { MemweaveError } from '../errors/index.js'
import { hex } from '../mem/index.js'

export interface PagingLevel {
  /** The table's name at this level (PML4, PDPT, ...), used in error messages. */
  readonly name: string
  /** Lowest virtual-address bit of this level's table index. */
  readonly indexShift: number
  readonly indexBits: number
  /**
   * Bytes one entry maps when its large-page bit is set. Undefined where the
   * bit is reserved. Entries of the last level always map one base page.
   */
  readonly largePageBytes?: number
}

/** Bit positions (0..63) inside one page-table entry. */
export interface EntryBits {
  readonly present: number
  /** Set: writable (x86 R/W; AArch64 DBM, which Linux uses as its write bit). */
  readonly writable: number
  readonly user: number
  /** x86: set means a large page. AArch64 (largePageWhenClear): the table bit, clear means a block. */
  readonly largePage: number
  /** PAT bit of a large-page entry: sits in the address field and is not part of the address (-1: none). */
  readonly largePagePat: number
  /** The entry is not executable when all of these bits are set (x86: NX; AArch64: UXN and PXN). */
  readonly noExecute: number | readonly number[]
  /** AArch64: bit 1 clear at an upper level means block, and at the last level it makes the entry invalid. */
  readonly largePageWhenClear?: boolean
  /** AArch64 AP[2]: set means read-only, unless `writable` (DBM) is set too. */
  readonly readOnly?: number
  /** AArch64: table descriptors carry no permissions in these bits; only blocks and pages do. */
  readonly leafPermissionsOnly?: boolean
}

/** Physical-address bits kept elsewhere in an entry (AArch64 52-bit output addresses). */
export interface ExtraAddressBits {
  readonly lowBit: number
  readonly highBit: number
  /** Physical-address bit the lowest one becomes. */
  readonly toBit: number
}

export interface PagingMode {
  readonly name: string
  /** Implemented virtual-address bits; addresses must be sign-extended from the top one. */
  readonly virtualBits: number
  readonly pageBytes: number
  readonly entryBytes: number
  /** Root table first. */
  readonly levels: readonly PagingLevel[]
  readonly bits: EntryBits
  /** Inclusive bit range of an entry holding the physical address (the rest are flags, PAT, keys, ignored). */
  readonly addressLowBit: number
  readonly addressHighBit: number
  /** High physical-address bits stored below addressLowBit (52-bit PAs on AArch64). */
  readonly extraAddress?: ExtraAddressBits
  /** Lowest address bit of a root value (TTBR: root tables smaller than a page are aligned to their size); default addressLowBit. */
  readonly rootLowBit?: number
  /** Highest address bit of a root value (TTBR BADDR ends at bit 47; ASID above); default addressHighBit. */
  readonly rootHighBit?: number
  /** TTBR0/TTBR1 split: the upper half is translated from its own root (AArch64). */
  readonly splitRoots?: boolean
}

const X64_BITS: EntryBits = { present: 0, writable: 1, user: 2, largePage: 7, largePagePat: 12, noExecute: 63 }

const PDPT: PagingLevel = { name: 'PDPT', indexShift: 30, indexBits: 9, largePageBytes: 1 << 30 }
const PD: PagingLevel = { name: 'PD', indexShift: 21, indexBits: 9, largePageBytes: 1 << 21 }
const PT: PagingLevel = { name: 'PT', indexShift: 12, indexBits: 9 }

export const X64_4LEVEL: PagingMode = {
  name: 'x86-64 4-level',
  virtualBits: 48,
  pageBytes: 4096,
  entryBytes: 8,
  levels: [{ name: 'PML4', indexShift: 39, indexBits: 9 }, PDPT, PD, PT],
  bits: X64_BITS,
  addressLowBit: 12,
  addressHighBit: 51,
}

export const X64_5LEVEL: PagingMode = {
  name: 'x86-64 5-level (LA57)',
  virtualBits: 57,
  pageBytes: 4096,
  entryBytes: 8,
  levels: [{ name: 'PML5', indexShift: 48, indexBits: 9 }, { name: 'PML4', indexShift: 39, indexBits: 9 }, PDPT, PD, PT],
  bits: X64_BITS,
  addressLowBit: 12,
  addressHighBit: 51,
}

export const PAGING_MODES: readonly PagingMode[] = [X64_4LEVEL, X64_5LEVEL]

const TWO_64 = 1n << 64n

/** Size of the canonical address space, 2^virtualBits (what a process `mem` leaf shows). */
export function addressSpaceBytes(mode: PagingMode): bigint {
  return 1n << BigInt(mode.virtualBits)
}

/**
 * log2 of each half's size: x86-64 sign-extends from bit virtualBits-1, so each
 * half is 2^(virtualBits-1); AArch64's TTBR0 and TTBR1 each cover a full
 * 2^virtualBits, [0, 2^VA) and [2^64 - 2^VA, 2^64).
 */
export function halfBits(mode: PagingMode): number {
  return mode.splitRoots === true ? mode.virtualBits : mode.virtualBits - 1
}

const halves = new Map<number, bigint>()

/** The end of the lower canonical half (memoised: this is on hot paths). */
function halfOf(mode: PagingMode): bigint {
  const bits = halfBits(mode)
  let half = halves.get(bits)
  if (half === undefined) { half = 1n << BigInt(bits); halves.set(bits, half) }
  return half
}

/** True when bits virtualBits-1..63 of virt are all equal (and virt is a 64-bit value). */
export function isCanonical(mode: PagingMode, virt: bigint): boolean {
  const half = halfOf(mode)
  return (virt >= 0n && virt < half) || (virt >= TWO_64 - half && virt < TWO_64)
}

export function nonCanonicalError(mode: PagingMode, virt: bigint): MemweaveError {
  return new MemweaveError('arch', 'out_of_bounds',
    `virtual address ${virt < 0n ? `-${hex(-virt)}` : hex(virt)} is not canonical for ${mode.name} (${mode.virtualBits}-bit)`)
}

/**
 * Linear page numbers run 0..2^(virtualBits-12) without the sign-extension
 * hole, so enumeration can count through both halves; canonical order and
 * linear order agree.
 */
export function canonicalFromLinear(mode: PagingMode, linear: bigint): bigint {
  const half = halfOf(mode)
  return linear < half ? linear : linear + TWO_64 - (half << 1n)
}

/** Inverse of canonicalFromLinear; an address inside the hole maps to the start of the upper half. */
export function linearFromCanonical(mode: PagingMode, virt: bigint): bigint {
  const half = halfOf(mode)
  if (virt <= half) return virt < 0n ? 0n : virt
  if (virt < TWO_64 - half) return half
  return virt - TWO_64 + (half << 1n)
}
