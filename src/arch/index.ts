/**
 * @module arch
 * x86-64 and AArch64 paging. Paging modes are data (X64_4LEVEL, X64_5LEVEL,
 * AARCH64_MODES: 4/16/64 KiB granules, TTBR0/TTBR1 split roots) fed to one
 * generic walker that translates a whole batch level by level: a list of
 * virtual reads becomes one page-table read per level, then one physical read.
 *
 *   VirtualAddressSpace.read([virtual pieces])
 *     │ cut at page boundaries, distinct pages of the whole batch
 *     ▼
 *   PageTranslator ── TranslationCache (TLB, per address space)
 *     │ misses
 *     ▼
 *   walkPages: level 1 … level N, each = one TableReader call = one mem.read
 *     │            (PageTableCache: whole table pages, shareable, bounded)
 *     ▼
 *   PhysicalMemory.read([physical fragments, contiguous ones coalesced])
 *
 * walkMappings enumerates mappings (phys_maps, kernel search) depth-first,
 * bounded by maxEntries. Caches are bounded LRUs whose expiry is a
 * CacheValidity from src/mem: forever for dumps, timed for live memory.
 * FakePageTables/SparseMemory are the seeded oracle the tests check against.
 */
export { X64_4LEVEL, X64_5LEVEL, PAGING_MODES, addressSpaceBytes, halfBits, isCanonical, nonCanonicalError, canonicalFromLinear, linearFromCanonical } from './paging-mode.js'
export type { PagingMode, PagingLevel, EntryBits } from './paging-mode.js'
export { AARCH64_MODES, AARCH64_4K_48, AARCH64_4K_52, AARCH64_16K_48, AARCH64_64K_48, aarch64Mode } from './aarch64-modes.js'
export type { Granule } from './aarch64-modes.js'
export { translateBatch, PageTranslator, rootFromDtb } from './translator.js'
export type { Translation, TranslatorOptions } from './translator.js'
export { WalkFailure } from './page-walk.js'
export type { PageOutcome } from './page-walk.js'
export type { PageMapping } from './entry-format.js'
export { VirtualAddressSpace } from './virtual-address-space.js'
export type { VirtualAddressSpaceOptions } from './virtual-address-space.js'
export { walkMappings, DEFAULT_MAX_ENTRIES } from './walk-mappings.js'
export type { MappingRun, MappingWalk, VirtualRange, WalkMappingsOptions } from './walk-mappings.js'
export { PageTableCache, TranslationCache, validityFor, LIVE_CACHE_MS } from './table-cache.js'
export type { CacheOptions, CacheStats } from './table-cache.js'
