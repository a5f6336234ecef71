/**
 * Walks the readable ranges of an object's memory in chunks, for the
 * built-ins that search memory (strings, scan, bash-history). A chunk is
 * first read as one piece; if that fails it is read again page by page in
 * one batch, so an unreadable page only cuts a hole. Yields contiguous
 * readable runs in address order, with progress counters.
 */
import type { MemoryRange, PluginContext } from '../plugin-api.js'

export const CHUNK_BYTES = 1024 * 1024
const PAGE_BYTES = 4096

export interface MemoryRun {
  readonly addr: bigint
  readonly data: Uint8Array
  /** Bytes of the ranges covered so far (readable or not). */
  readonly doneBytes: bigint
  readonly totalBytes: bigint
}

export interface RunOptions {
  readonly chunkBytes?: number
  readonly signal?: AbortSignal
  /** Called with the bytes that could not be read. */
  readonly onHole?: (addr: bigint, length: number) => void
}

/** Ranges clipped to [start, end), empty ones dropped. */
export function clipRanges(ranges: readonly MemoryRange[], start: bigint | undefined, end: bigint | undefined): MemoryRange[] {
  return ranges
    .map((r) => ({ ...r, start: start !== undefined && start > r.start ? start : r.start, end: end !== undefined && end < r.end ? end : r.end }))
    .filter((r) => r.end > r.start)
}

export function totalBytes(ranges: readonly MemoryRange[]): bigint {
  return ranges.reduce((sum, r) => sum + (r.end - r.start), 0n)
}

/** Reads one chunk; returns its readable runs (one, or several around unreadable pages). */
async function readChunk(ctx: PluginContext, addr: bigint, length: number, onHole: RunOptions['onHole']): Promise<{ addr: bigint; data: Uint8Array }[]> {
  const [whole] = await ctx.read([{ addr, length }])
  if (whole?.ok === true && whole.data.length === length) return [{ addr, data: whole.data }]
  const pieces: { addr: bigint; length: number }[] = []
  for (let at = addr; at < addr + BigInt(length);) {
    const pageEnd = (at / BigInt(PAGE_BYTES) + 1n) * BigInt(PAGE_BYTES)
    const stop = pageEnd < addr + BigInt(length) ? pageEnd : addr + BigInt(length)
    pieces.push({ addr: at, length: Number(stop - at) })
    at = stop
  }
  const results = await ctx.read(pieces)
  const runs: { addr: bigint; parts: Uint8Array[]; length: number }[] = []
  let current: { addr: bigint; parts: Uint8Array[]; length: number } | undefined
  pieces.forEach((piece, i) => {
    const result = results[i]
    const data = result?.ok === true ? result.data : undefined
    if (data === undefined || data.length === 0) {
      onHole?.(piece.addr, piece.length)
      current = undefined
      return
    }
    if (current === undefined) { current = { addr: piece.addr, parts: [], length: 0 }; runs.push(current) }
    current.parts.push(data)
    current.length += data.length
    if (data.length < piece.length) { onHole?.(piece.addr + BigInt(data.length), piece.length - data.length); current = undefined }
  })
  return runs.map((r) => ({ addr: r.addr, data: r.parts.length === 1 ? (r.parts[0] ?? new Uint8Array(0)) : Buffer.concat(r.parts) }))
}

export async function* readableRuns(ctx: PluginContext, ranges: readonly MemoryRange[], options: RunOptions = {}): AsyncGenerator<MemoryRun> {
  const chunkBytes = options.chunkBytes ?? CHUNK_BYTES
  const total = totalBytes(ranges)
  let done = 0n
  for (const range of [...ranges].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0))) {
    for (let at = range.start; at < range.end;) {
      if (options.signal?.aborted === true) return
      // Chunks end on chunk-size boundaries so page splits line up.
      const boundary = (at / BigInt(chunkBytes) + 1n) * BigInt(chunkBytes)
      const stop = boundary < range.end ? boundary : range.end
      const length = Number(stop - at)
      const runs = await readChunk(ctx, at, length, options.onHole)
      done += BigInt(length)
      for (const run of runs) yield { addr: run.addr, data: run.data, doneBytes: done, totalBytes: total }
      if (runs.length === 0) yield { addr: stop, data: new Uint8Array(0), doneBytes: done, totalBytes: total }
      at = stop
    }
  }
}
