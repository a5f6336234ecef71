/**
 * The one memory interface. Physical sources, virtual address spaces and
 * middleware (caches, metrics) all implement exactly these three members;
 * everything else (single reads, whole-buffer reads) is a helper that builds
 * a batch. A failed piece never fails its neighbours.
 */
import type { MemweaveError } from '../errors/index.js'

export interface ReadPiece<A extends bigint = bigint> {
  readonly addr: A
  readonly length: number
}

export interface WritePiece<A extends bigint = bigint> {
  readonly addr: A
  readonly data: Uint8Array
}

/** One result per piece, in the order of the request. */
export type PieceResult =
  | { readonly ok: true; readonly data: Uint8Array }
  | { readonly ok: false; readonly error: MemweaveError }

export type WriteResult = { readonly ok: true } | { readonly ok: false; readonly error: MemweaveError }

export interface MemMetadata {
  /** One past the highest address that can be read. */
  readonly maxAddress: bigint
  /** How many pieces a caller should put in one batch for best throughput. */
  readonly idealBatchSize: number
  readonly readonly: boolean
  /** True when the contents may change while we look (live VM, host process). */
  readonly volatile: boolean
}

export interface MemoryView<A extends bigint = bigint> {
  read(pieces: readonly ReadPiece<A>[]): Promise<PieceResult[]>
  write(pieces: readonly WritePiece<A>[]): Promise<WriteResult[]>
  metadata(): MemMetadata
}

export type PhysicalMemory = MemoryView<import('./address.js').PhysAddr>
export type VirtualMemory = MemoryView<import('./address.js').VirtAddr>

/** The largest piece any layer accepts; bigger requests are split by callers. */
export const MAX_PIECE_BYTES = 64 * 1024 * 1024
