/**
 * Reads of a streamed leaf (content produced in order, size unknown): the
 * bytes come from a ChunkSource and only a bounded window behind the
 * reader is kept, so a big output never sits in memory whole. A read
 * before the window restarts the stream from the beginning; a read past
 * the end comes back short (EOF), as for a file.
 */
import { MemweaveError, toMemweaveError } from '../errors/index.js'
import type { PieceResult, ReadPiece } from '../mem/index.js'
import type { ChunkSource } from './plugin-backend.js'

/** Bytes kept behind the furthest read, so small rewinds (FUSE readahead) need no restart. */
export const STREAM_WINDOW_BYTES = 8 * 1024 * 1024

export class StreamedReader {
  private chunks: Uint8Array[] = []
  /** Offset of chunks[0]. */
  private base = 0n
  /** Offset after the last chunk. */
  private end = 0n
  private done = false
  private failure: MemweaveError | undefined
  private queue: Promise<unknown> = Promise.resolve()
  restarts = 0

  constructor(
    private source: ChunkSource,
    private readonly reopen: () => Promise<ChunkSource>,
    private readonly description: string,
    private readonly windowBytes = STREAM_WINDOW_BYTES,
  ) {}

  /** Serves pieces in address order (one pass over the stream), answering in request order. */
  read(pieces: readonly ReadPiece[]): Promise<PieceResult[]> {
    const run = async (): Promise<PieceResult[]> => {
      const byAddress = [...pieces.entries()].sort(([, a], [, b]) => (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : 0))
      const answered: [number, PieceResult][] = []
      for (const [index, piece] of byAddress) answered.push([index, await this.readOne(piece.addr, piece.length)])
      return answered.sort(([a], [b]) => a - b).map(([, result]) => result)
    }
    const next = this.queue.then(run, run)
    this.queue = next.catch(() => undefined)
    return next
  }

  async close(): Promise<void> {
    this.chunks = []
    await this.source.close()
  }

  private async restart(): Promise<void> {
    await this.source.close()
    this.source = await this.reopen()
    this.chunks = []
    this.base = 0n
    this.end = 0n
    this.done = false
    this.failure = undefined
    this.restarts++
  }

  private async readOne(addr: bigint, length: number): Promise<PieceResult> {
    try {
      if (addr < this.base) await this.restart()
    } catch (err) {
      return { ok: false, error: toMemweaveError(err, 'plugin', `restarting ${this.description}`) }
    }
    const want = addr + BigInt(length)
    while (!this.done && this.failure === undefined && this.end < want) {
      let chunk: Uint8Array | undefined
      try {
        chunk = await this.source.next()
      } catch (err) {
        const error = toMemweaveError(err, 'plugin', 'stream')
        this.failure = new MemweaveError(error.origin, error.kind, `${this.description} at offset ${this.end}: ${error.message}`, { cause: err })
        break
      }
      if (chunk === undefined) { this.done = true; break }
      this.chunks.push(chunk)
      this.end += BigInt(chunk.length)
      this.trim(addr)
    }
    if (this.failure !== undefined && this.end < want) return { ok: false, error: this.failure }
    return { ok: true, data: this.copy(addr, want < this.end ? want : this.end) }
  }

  /** Drops whole chunks that end before `keepFrom` while more than the window is held. */
  private trim(keepFrom: bigint): void {
    for (;;) {
      const first = this.chunks[0]
      if (first === undefined || this.chunks.length < 2) return
      const firstEnd = this.base + BigInt(first.length)
      if (this.end - this.base <= BigInt(this.windowBytes) || firstEnd > keepFrom) return
      this.chunks.shift()
      this.base = firstEnd
    }
  }

  private copy(from: bigint, to: bigint): Uint8Array {
    if (to <= from) return new Uint8Array(0)
    if (from < this.base) throw new MemweaveError('plugin', 'internal', `${this.description}: offset ${from} fell out of the window`)
    const out = new Uint8Array(Number(to - from))
    let at = this.base
    let written = 0
    for (const chunk of this.chunks) {
      const chunkEnd = at + BigInt(chunk.length)
      if (chunkEnd > from && at < to) {
        const start = from > at ? Number(from - at) : 0
        const stop = to < chunkEnd ? Number(to - at) : chunk.length
        out.set(chunk.subarray(start, stop), written)
        written += stop - start
      }
      at = chunkEnd
      if (at >= to) break
    }
    return out
  }
}
