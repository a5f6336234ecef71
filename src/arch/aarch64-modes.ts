/**
 * AArch64 stage-1 translation (VMSAv8-64) as paging-mode data for the one
 * generic walker: 4, 16 and 64 KiB granules, 39- to 52-bit virtual addresses,
 * TTBR0 (lower half) and TTBR1 (upper half) roots.
 *
 *   descriptor bits   1:0  11 table (upper levels) / page (last level), 01 block, x0 invalid
 *                     6    AP[1]: EL0 access        7  AP[2]: read-only
 *                     51   DBM (Linux's PTE_WRITE)  52 contiguous hint (each entry still
 *                     53   PXN  54 UXN                 holds its own address: nothing to do)
 *   output address    bits 47:granule; 52-bit PAs: 64K keeps PA[51:48] in bits 15:12,
 *                     4K/16K with LPA2 keep PA[51:50] in bits 9:8 (address field 49:granule)
 *
 * A page is executable unless both UXN and PXN are set (user code has PXN,
 * kernel text has UXN). Table descriptors' own permission bits (APTable,
 * XNTable) are not applied: Linux leaves them clear.
 */
import type { EntryBits, PagingLevel, PagingMode } from './paging-mode.js'

const BITS: EntryBits = {
  present: 0, writable: 51, user: 6, largePage: 1, largePagePat: -1, noExecute: [53, 54],
  largePageWhenClear: true, readOnly: 7, leafPermissionsOnly: true,
}

export type Granule = 4096 | 16384 | 65536

/** Levels for a granule and VA size: each level resolves (granule bits - 3) bits, the root whatever is left. */
function levelsFor(granule: Granule, virtualBits: number, lpa2: boolean): PagingLevel[] {
  const pageShift = Math.log2(granule)
  const perLevel = pageShift - 3
  const levels: PagingLevel[] = []
  let shift = pageShift
  // from the last level upwards
  let level = 3
  while (shift < virtualBits) {
    const indexBits = Math.min(perLevel, virtualBits - shift)
    const blockBytes = level === 3 ? undefined : blockSize(granule, level, lpa2)
    levels.unshift({ name: `L${level}`, indexShift: shift, indexBits, ...(blockBytes === undefined ? {} : { largePageBytes: blockBytes }) })
    shift += perLevel
    level--
  }
  return levels
}

/** Block sizes: 4K L1 1 GiB and L2 2 MiB; 16K L2 32 MiB (L1 64 GiB with LPA2); 64K L2 512 MiB (L1 4 TiB with 52-bit PA). */
function blockSize(granule: Granule, level: number, lpa2: boolean): number | undefined {
  const shift = Math.log2(granule) + (3 - level) * (Math.log2(granule) - 3)
  if (granule === 4096) return level === 1 || level === 2 || (lpa2 && level === 0) ? 2 ** shift : undefined
  if (granule === 16384) return level === 2 || (lpa2 && level === 1) ? 2 ** shift : undefined
  return level === 2 || (lpa2 && level === 1) ? 2 ** shift : undefined
}

/** One AArch64 stage-1 regime; `lpa2` selects 52-bit output addresses (LPA2 on 4K/16K, LPA on 64K). */
export function aarch64Mode(granule: Granule, virtualBits: number, lpa2 = false): PagingMode {
  const pageShift = Math.log2(granule)
  const name = `AArch64 ${granule / 1024}K ${virtualBits}-bit${lpa2 ? ' (52-bit PA)' : ''}`
  const extraAddress = !lpa2 ? undefined : granule === 65536 ? { lowBit: 12, highBit: 15, toBit: 48 } : { lowBit: 8, highBit: 9, toBit: 50 }
  return {
    name,
    virtualBits,
    pageBytes: granule,
    entryBytes: 8,
    levels: levelsFor(granule, virtualBits, lpa2),
    bits: BITS,
    addressLowBit: pageShift,
    addressHighBit: lpa2 && granule !== 65536 ? 49 : 47,
    ...(extraAddress === undefined ? {} : { extraAddress }),
    rootLowBit: 1,
    rootHighBit: 47,
    splitRoots: true,
  }
}

export const AARCH64_4K_48 = aarch64Mode(4096, 48)
export const AARCH64_4K_39 = aarch64Mode(4096, 39)
export const AARCH64_4K_52 = aarch64Mode(4096, 52, true)
export const AARCH64_16K_48 = aarch64Mode(16384, 48)
export const AARCH64_16K_47 = aarch64Mode(16384, 47)
export const AARCH64_16K_52 = aarch64Mode(16384, 52, true)
export const AARCH64_64K_48 = aarch64Mode(65536, 48)
export const AARCH64_64K_42 = aarch64Mode(65536, 42)
export const AARCH64_64K_52 = aarch64Mode(65536, 52, true)

/** Every regime Linux configures (CONFIG_ARM64_VA_BITS with each page size), most common first. */
export const AARCH64_MODES: readonly PagingMode[] = [
  AARCH64_4K_48, AARCH64_4K_52, AARCH64_4K_39, AARCH64_16K_48, AARCH64_16K_47, AARCH64_16K_52, AARCH64_64K_48, AARCH64_64K_52, AARCH64_64K_42,
]
