/**
 * Read-ahead for one open memory leaf. Each tree read has a fixed cost (a
 * round trip to the daemon, a pread), and fuse-native's kernel requests are
 * 128 KiB; so when reads run sequentially, one tree read fetches a whole
 * window and the next window is fetched while this one is served (with
 * libfuse 3's 1 MiB requests, the next read's bytes are already on their
 * way while the kernel copies this one). Random reads go straight through.
 *
 * Staleness stays bounded: a window is used only by the sequential reads
 * that follow it and only for maxAgeMs after it was read; any other read
 * drops it. The kernel page cache is still never involved (direct I/O).
 */
import { MemweaveError } from '../../errors/index.js'
import { readRange } from './hole-read.js'
import type { PieceReader } from './hole-read.js'

export interface ReadAheadOptions {
  readonly windowBytes: number
  readonly maxAgeMs: number
  readonly zeroFillUnmapped: boolean
  /** End of the leaf; windows never reach past it. */
  readonly sizeBytes: bigint
}

interface Window {
  readonly start: bigint
  readonly end: bigint
  /** Resolves to the bytes, or to the error that kept them (then callers read directly). */
  readonly bytes: Promise<Uint8Array | MemweaveError>
  /** When the bytes arrived; a window still in flight is fresh. */
  arrivedAt: number | undefined
}

export class ReadAhead {
  private current: Window | undefined
  private next: Window | undefined
  private expected: bigint | undefined

  constructor(private readonly client: PieceReader, private readonly handle: number, private readonly options: ReadAheadOptions) {}

  async read(addr: bigint, length: number): Promise<Uint8Array> {
    const end = addr + BigInt(length)
    const sequential = addr === this.expected
    this.expected = end
    const window = sequential ? this.covering(addr, end) : undefined
    if (!sequential || (window === undefined && length > this.options.windowBytes)) return this.drop(addr, length)
    if (window === undefined) {
      this.current = this.fetch(addr)
      this.next = undefined
      return this.serve(this.current, addr, end)
    }
    if (window === this.next) {
      this.current = window
      this.next = undefined
    }
    return this.serve(window, addr, end)
  }

  /** Reads directly and forgets the windows (a seek, or a window that failed). */
  private drop(addr: bigint, length: number): Promise<Uint8Array> {
    this.current = undefined
    this.next = undefined
    return this.direct(addr, length)
  }

  private covering(addr: bigint, end: bigint): Window | undefined {
    const now = performance.now()
    return [this.current, this.next].find((w) => w !== undefined && addr >= w.start && end <= w.end
      && (w.arrivedAt === undefined || now - w.arrivedAt <= this.options.maxAgeMs))
  }

  private async serve(window: Window, addr: bigint, end: bigint): Promise<Uint8Array> {
    const bytes = await window.bytes
    if (bytes instanceof MemweaveError || end > window.end) return this.drop(addr, Number(end - addr))
    // Half of this window served: fetch the following one while the rest is read.
    if (this.current === window && this.next === undefined && window.end < this.options.sizeBytes
      && end - window.start >= (window.end - window.start) / 2n) this.next = this.fetch(window.end)
    return bytes.subarray(Number(addr - window.start), Number(end - window.start))
  }

  private direct(addr: bigint, length: number): Promise<Uint8Array> {
    return readRange(this.client, this.handle, addr, length, this.options.zeroFillUnmapped)
  }

  private fetch(start: bigint): Window {
    const limit = start + BigInt(this.options.windowBytes)
    const end = limit < this.options.sizeBytes ? limit : this.options.sizeBytes
    const window: Window = {
      start,
      end,
      arrivedAt: undefined,
      // Started on the next turn: a source that reads synchronously (a file's pread) would otherwise hold
      // back the answer this read is about to give, and the reader could not copy it while we fetch.
      bytes: nextTurn().then(() => readRange(this.client, this.handle, start, Number(end - start), this.options.zeroFillUnmapped)).then(
        // A short answer (end of a source) is not a window: callers fall back to direct reads.
        (data) => (data.length === Number(end - start) ? data : new MemweaveError('fuse', 'out_of_bounds', 'short read-ahead')),
        (err: unknown) => (err instanceof MemweaveError ? err : new MemweaveError('fuse', 'io', 'read-ahead failed', { cause: err })),
      ),
    }
    // Age counts from when the bytes arrived, not from when they were asked for.
    void window.bytes.then(() => { window.arrivedAt = performance.now() })
    return window
  }
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => { setImmediate(resolve) })
}
