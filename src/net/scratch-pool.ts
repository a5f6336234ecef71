/**
 * Memory the daemon owns for read replies: the source reads into a scratch
 * buffer (readInto), the bytes go to the data ring, the data channel or the
 * WebSocket, and the buffer comes back here once the socket has taken them,
 * for the next read. Bounded for the whole daemon: past the bound, or for
 * bigger replies, a buffer given back is freed at once (the mmap addon
 * detaches it) rather than left to the garbage collector, which frees big
 * external buffers only when it next runs: a daemon whose budget has just
 * been given back by a cut-off client would otherwise hold that memory and
 * the next reads' together (docs/limits.md). Without the addon it is left
 * to the collector.
 */
import { mmapAddon } from '../addons/index.js'


export interface ScratchPoolStats {
  /** Buffers handed out and not yet given back. */
  inUse: number
  /** Buffers waiting here. */
  idle: number
  idleBytes: number
}

export class ScratchPool {
  private readonly free: Uint8Array[] = []
  private idleBytes = 0
  private inUse = 0

  /** `maxBufferBytes`: larger requests are not pooled; `maxIdleBytes`: most memory kept waiting. */
  constructor(readonly maxBufferBytes = 4 * 1024 * 1024, readonly maxIdleBytes = 32 * 1024 * 1024) {}

  /** A buffer of at least `bytes` (its own memory, contents unspecified). */
  take(bytes: number): Uint8Array {
    this.inUse++
    const i = this.free.findIndex((b) => b.length >= bytes)
    if (i >= 0) {
      const buffer = this.free.splice(i, 1)[0]!
      this.idleBytes -= buffer.length
      return buffer
    }
    const size = bytes <= this.maxBufferBytes ? Math.max(bytes, 1024 * 1024) : bytes
    const raw = Buffer.allocUnsafeSlow(size)
    return new Uint8Array(raw.buffer, raw.byteOffset, size)
  }

  /** Gives a buffer back once nothing refers to its bytes any more (no view of it is used after this). */
  give(buffer: Uint8Array): void {
    this.inUse--
    if (buffer.length > this.maxBufferBytes || this.idleBytes + buffer.length > this.maxIdleBytes) {
      mmapAddon()?.free(buffer.buffer as ArrayBuffer)
      return
    }
    this.free.push(buffer)
    this.idleBytes += buffer.length
  }

  get stats(): ScratchPoolStats {
    return { inUse: this.inUse, idle: this.free.length, idleBytes: this.idleBytes }
  }
}

/** The daemon's one pool (every connection shares its bound). */
export const READ_SCRATCH = new ScratchPool()
