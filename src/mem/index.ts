/**
 * @module mem
 * The memory layer: one batched interface for every memory source and view,
 * and middleware that wraps it.
 *
 *   caller ──read([pieces])──▶ PageCache ─▶ MeteredMemory ─▶ source (file, qemu, …)
 *          ◀──[result per piece]──────────────────────────────┘
 *
 * A result is either data or that piece's own error: partial failure is per
 * piece, never all-or-nothing.
 */
export { physAddr, virtAddr, hex } from './address.js'
export type { PhysAddr, VirtAddr } from './address.js'
export { MAX_PIECE_BYTES } from './memory-view.js'
export type { FileExtent, FileMap, FileSpan, FileSpans, MemMetadata, MemoryView, PhysicalMemory, VirtualMemory, PieceResult, ReadIntoPiece, ReadIntoResult, ReadPiece, WritePiece, WriteResult } from './memory-view.js'
export { readInto, readIntoByCopy, readFresh, copyResults, checkTarget, layOut } from './read-into.js'
export { readExact, readU32, readU64, writeExact, unwrap, splitPieces, dataOrZeros, scatterResults } from './read-helpers.js'
export { RangeMap } from './range-map.js'
export { BufferMemory } from './buffer-memory.js'
export type { MappedRange, RangeSegment } from './range-map.js'
export { MeteredMemory, emptyStats } from './metrics.js'
export type { MemStats } from './metrics.js'
export { PageCache, FOREVER, timedValidity } from './page-cache.js'
export type { CacheValidity, PageCacheOptions } from './page-cache.js'
export { LruMap } from './lru-map.js'
