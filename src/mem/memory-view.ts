/**
 * The one memory interface. Physical sources, virtual address spaces and
 * middleware (caches, metrics) all implement these three members; everything
 * else (single reads, whole-buffer reads) is a helper that builds a batch.
 * A failed piece never fails its neighbours.
 *
 * `readInto` is the one optional member: a bulk path that writes each
 * piece straight into memory the caller owns (`target[at, at+length)`), so a
 * read is copied once from the source to its consumer. Callers use the
 * readInto() helper (read-into.ts), which falls back to read() and a copy
 * for views that do not have it; every view passes the same shared case.
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

/** A piece read into the caller's buffer: its bytes land at target[at, at+length). */
export interface ReadIntoPiece<A extends bigint = bigint> extends ReadPiece<A> {
  readonly at: number
}

/**
 * One result per readInto piece: how many bytes were written at its `at`
 * (its length, or fewer only where read() would return fewer: a view that
 * reads short at its end), or that piece's own error (its target bytes are
 * then unspecified).
 */
export type ReadIntoResult = { readonly ok: true; readonly length: number } | { readonly ok: false; readonly error: MemweaveError }

export interface MemMetadata {
  /** One past the highest address that can be read. */
  readonly maxAddress: bigint
  /** How many pieces a caller should put in one batch for best throughput. */
  readonly idealBatchSize: number
  readonly readonly: boolean
  /** True when the contents may change while we look (live VM, host process). */
  readonly volatile: boolean
}

/** length bytes at `pos` of the open file `fd`, or (fd -1) length zero bytes. */
export interface FileSpan {
  readonly fd: number
  readonly pos: number
  readonly length: number
}

/**
 * Where a range's bytes lie: spans of plain files (read or spliced by the
 * caller itself, e.g. the FUSE frontend answering from the page cache) and
 * runs of zeros, in order. The fds stay open until release() (call it once
 * the bytes are taken, always).
 */
export interface FileSpans {
  readonly spans: readonly FileSpan[]
  release(): void
}

/** [addr, addr + length) of a view: at `pos` of its FileMap's fd, or (pos -1) zeros. */
export interface FileExtent {
  readonly addr: bigint
  readonly length: bigint
  readonly pos: number
}

/**
 * The whole view as extents of one plain file (an image file) and runs of
 * zeros, sorted; an address no extent covers is read through read() (which
 * says why it cannot be read). For readers that answer reads themselves
 * while a file is open (the FUSE addon duplicates the fd). The fd stays open
 * until release() (call it once the fd is duplicated, always).
 */
export interface FileMap {
  readonly fd: number
  readonly extents: readonly FileExtent[]
  release(): void
}

export interface MemoryView<A extends bigint = bigint> {
  read(pieces: readonly ReadPiece<A>[]): Promise<PieceResult[]>
  write(pieces: readonly WritePiece<A>[]): Promise<WriteResult[]>
  metadata(): MemMetadata
  /** Optional bulk path; call it through the readInto() helper, which checks the target and falls back to read(). */
  readInto?(pieces: readonly ReadIntoPiece<A>[], target: Uint8Array): Promise<ReadIntoResult[]>
  /** Optional: [addr, addr + length) as file spans, when its bytes are plain file contents; undefined when not (then read). */
  fileSpans?(addr: A, length: number): FileSpans | undefined
  /** Optional: the whole view as a FileMap, when its bytes are plain file contents; undefined when not. */
  fileMap?(): FileMap | undefined
}

export type PhysicalMemory = MemoryView<import('./address.js').PhysAddr>
export type VirtualMemory = MemoryView<import('./address.js').VirtAddr>

/** The largest piece any layer accepts; bigger requests are split by callers. */
export const MAX_PIECE_BYTES = 64 * 1024 * 1024
