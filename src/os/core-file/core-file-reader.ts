/**
 * Serves reads of a core file at any offset without building it: the head
 * (headers and notes) comes from the layout, and data offsets map to
 * (virtual address, length) reads of the process memory, all pieces of one
 * call going to memory as one batch. A chunk that fails as unmapped is
 * retried page by page; pages still unmapped read as zeros (a hole inside
 * a readable mapping). Other failures (stale, permission) fail the piece.
 */
import { MemweaveError } from '../../errors/index.js'
import { virtAddr } from '../../mem/index.js'
import type { PieceResult, ReadPiece, VirtAddr, VirtualMemory } from '../../mem/index.js'
import { CORE_PAGE_BYTES } from './core-file-layout.js'
import type { CoreLayout, CoreSegment } from './core-file-layout.js'

/** Largest single memory read the reader issues. */
const CHUNK_BYTES = 4 * 1024 * 1024

export interface CoreReadStats {
  /** Pages inside readable mappings that could not be read and were written as zeros. */
  zeroFilledPages: number
}

interface Job {
  readonly piece: number
  readonly dst: number
  readonly addr: VirtAddr
  readonly length: number
}

function isHole(error: MemweaveError): boolean {
  return error.kind === 'unmapped' || error.kind === 'out_of_bounds'
}

/** Index of the first data segment whose file range ends after `offset`. */
function firstSegmentAfter(segments: readonly CoreSegment[], offset: bigint): number {
  let lo = 0
  let hi = segments.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    const s = segments[mid]
    if (s !== undefined && s.fileOffset + s.fileBytes <= offset) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** Memory reads for file bytes [start, end) of piece `piece`, whose buffer begins at file offset `origin`. */
function jobsFor(layout: CoreLayout, piece: number, origin: bigint, start: bigint, end: bigint, out: Job[]): void {
  const segments = layout.dataSegments
  for (let i = firstSegmentAfter(segments, start); i < segments.length; i++) {
    const s = segments[i]
    if (s === undefined || s.fileOffset >= end) break
    const from = start > s.fileOffset ? start : s.fileOffset
    const to = end < s.fileOffset + s.fileBytes ? end : s.fileOffset + s.fileBytes
    for (let at = from; at < to; at += BigInt(CHUNK_BYTES)) {
      const length = Number(to - at < BigInt(CHUNK_BYTES) ? to - at : BigInt(CHUNK_BYTES))
      out.push({ piece, dst: Number(at - origin), addr: virtAddr(s.vaddr + (at - s.fileOffset)), length })
    }
  }
}

/** Splits a job at page boundaries of its virtual addresses. */
function pagesOf(job: Job): Job[] {
  const out: Job[] = []
  let addr = job.addr as bigint
  const end = addr + BigInt(job.length)
  while (addr < end) {
    const next = (addr / CORE_PAGE_BYTES + 1n) * CORE_PAGE_BYTES
    const stop = next < end ? next : end
    out.push({ piece: job.piece, dst: job.dst + Number(addr - job.addr), addr: virtAddr(addr), length: Number(stop - addr) })
    addr = stop
  }
  return out
}

export async function readCoreFile(
  layout: CoreLayout, mem: VirtualMemory, pieces: readonly ReadPiece[], stats?: CoreReadStats,
): Promise<PieceResult[]> {
  const buffers: Uint8Array[] = []
  const errors: (MemweaveError | undefined)[] = pieces.map(() => undefined)
  const jobs: Job[] = []
  pieces.forEach((piece, i) => {
    const start = piece.addr
    const end = start + BigInt(piece.length) < layout.totalBytes ? start + BigInt(piece.length) : layout.totalBytes
    const buffer = new Uint8Array(end > start ? Number(end - start) : 0)
    buffers.push(buffer)
    if (end <= start) return
    if (start < layout.dataStart) {
      buffer.set(layout.head.subarray(Number(start), Number(end < layout.dataStart ? end : layout.dataStart)))
    }
    jobsFor(layout, i, start, start > layout.dataStart ? start : layout.dataStart, end, jobs)
  })

  const retry: Job[] = []
  const first = jobs.length === 0 ? [] : await mem.read(jobs.map((j) => ({ addr: j.addr, length: j.length })))
  first.forEach((result, k) => {
    const job = jobs[k]
    if (job === undefined) return
    if (result.ok && result.data.length === job.length) buffers[job.piece]?.set(result.data, job.dst)
    else if (result.ok || isHole(result.error)) retry.push(...pagesOf(job))
    else errors[job.piece] ??= result.error
  })
  const second = retry.length === 0 ? [] : await mem.read(retry.map((j) => ({ addr: j.addr, length: j.length })))
  second.forEach((result, k) => {
    const job = retry[k]
    if (job === undefined) return
    if (result.ok) {
      buffers[job.piece]?.set(result.data.subarray(0, job.length), job.dst)
      if (result.data.length < job.length && stats !== undefined) stats.zeroFilledPages++
    } else if (isHole(result.error)) {
      if (stats !== undefined) stats.zeroFilledPages++
    } else {
      errors[job.piece] ??= result.error
    }
  })

  return pieces.map((piece, i): PieceResult => {
    const error = errors[i]
    if (error !== undefined) return { ok: false, error: new MemweaveError(error.origin, error.kind, `core file at offset ${piece.addr}: ${error.message}`, { cause: error }) }
    return { ok: true, data: buffers[i] ?? new Uint8Array(0) }
  })
}
