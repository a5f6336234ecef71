/**
 * @module memweave/mem
 * The batched memory interface, the memory views built on it (a process's
 * virtual address space over physical memory) and middleware that wraps
 * any of them (page cache, metrics).
 */
export { physAddr, virtAddr, hex, MAX_PIECE_BYTES, readExact, readU32, readU64, writeExact, unwrap, splitPieces, dataOrZeros } from '../mem/index.js'
export { RangeMap, BufferMemory, MeteredMemory, emptyStats, PageCache, FOREVER, timedValidity, LruMap } from '../mem/index.js'
export type {
  PhysAddr, VirtAddr, MemMetadata, MemoryView, PhysicalMemory, VirtualMemory, PieceResult, ReadPiece, WritePiece, WriteResult,
  MappedRange, RangeSegment, MemStats, CacheValidity, PageCacheOptions,
} from '../mem/index.js'
export { VirtualAddressSpace, PageTranslator, translateBatch, rootFromDtb, PageTableCache, TranslationCache, X64_4LEVEL, X64_5LEVEL, PAGING_MODES } from '../arch/index.js'
export type { VirtualAddressSpaceOptions, PagingMode, Translation, TranslatorOptions } from '../arch/index.js'
