/**
 * The shared data ring both sides agree on (protocol 1.1): a file on tmpfs
 * that a unix-socket client creates, offers at hello, and the daemon writes
 * big read replies into instead of sending them through the socket.
 *
 *   offset 0     MAGIC (16 bytes) + KEY (32 random bytes, written by the client)
 *   offset 4096  ring data: CAPACITY = file size - 4096 bytes
 *
 * Ring positions count bytes modulo an epoch (a multiple of the capacity
 * below 2^32, so positions stay plain msgpack uint32 and `position %
 * capacity` is the same on both sides across the wrap). The daemon hands out
 * regions in order (their replies may overtake each other: ring-ledger.ts);
 * the client copies each out as soon as its reply arrives, and reports the
 * end of the last one it consumed with its next read request. Regions never straddle the end of the ring: the tail of a
 * lap that is too short is skipped, and a lap may end early (the next starts at offset 0 while the start is free),
 * so the client must take every position as given, never assume the next one follows the last.
 */

export const RING_MAGIC = Buffer.from('memweave-ring-1\n')
export const RING_KEY_BYTES = 32
export const RING_HEADER_BYTES = 4096
export const RING_FILE_PREFIX = 'memweave-'

/** Client defaults: where the file goes and how big it is. */
export const DEFAULT_RING_DIR = '/dev/shm'
export const DEFAULT_RING_FILE_BYTES = 64 * 1024 * 1024

const POSITION_LIMIT = 2 ** 32

/** The largest multiple of the capacity below 2^32; positions live in 0..epoch-1. */
export function ringEpoch(capacity: number): number {
  return Math.floor(POSITION_LIMIT / capacity) * capacity
}

/** Free and used space of a ring, by positions; the daemon's allocator. Pure bookkeeping, no I/O. */
export class RingSpace {
  readonly epoch: number
  /** Where the next region starts. */
  private head = 0
  /** The oldest position the client has not reported consumed. */
  private tail = 0

  constructor(readonly capacity: number) {
    // At least 2 laps per epoch, so `used` (head - tail mod epoch) is never ambiguous.
    if (!Number.isSafeInteger(capacity) || capacity <= 0 || capacity > POSITION_LIMIT / 2) throw new RangeError(`ring capacity ${capacity} out of range`)
    this.epoch = ringEpoch(capacity)
  }

  get used(): number {
    return this.distance(this.tail, this.head)
  }

  /** The current state, to roll back to when the bytes for what was reserved since could not be written. */
  mark(): { readonly head: number; readonly tail: number } {
    return { head: this.head, tail: this.tail }
  }

  rollback(to: { readonly head: number; readonly tail: number }): void {
    this.head = to.head
    this.tail = to.tail
  }

  /**
   * Reserves `length` contiguous bytes; their position, or undefined when they do not fit now.
   * The next lap starts early, at offset 0, once the start of the ring is free for this region and
   * for as much again as is in use: the ring's working set stays about twice what is in flight, so
   * the bytes both sides copy stay in the CPU caches (a 64 MiB lap measured 3-5x slower to copy
   * out of than an 8 MiB one), and the tmpfs pages touched stay few.
   */
  reserve(length: number): number | undefined {
    if (length <= 0 || length > this.capacity) return undefined
    const offset = this.head % this.capacity
    const used = this.used
    // The tail lies in this lap (at offset - used) when everything in use is behind the head in it.
    const early = offset > 0 && used <= offset && offset - used >= length + used
    let skip = early || offset + length > this.capacity ? this.capacity - offset : 0
    if (skip > 0 && this.used === 0) {
      // Nothing unconsumed: start the next lap at once, the skipped end need not count (a stale mark is then ignored).
      this.head = this.tail = (this.head + skip) % this.epoch
      skip = 0
    }
    if (this.used + skip + length > this.capacity) return undefined
    const position = (this.head + skip) % this.epoch
    this.head = (position + length) % this.epoch
    return position
  }

  /**
   * The client consumed everything before `position`. A position outside the
   * reserved span (a confused or lying client) is ignored: it can only make
   * the ring look fuller than it is, or free what that client has not read
   * yet, which corrupts nobody's data but its own.
   */
  release(position: number): boolean {
    if (!Number.isSafeInteger(position) || position < 0 || position >= this.epoch) return false
    if (this.distance(this.tail, position) > this.used) return false
    this.tail = position
    return true
  }

  /** Ring byte offset of a position. */
  offsetOf(position: number): number {
    return position % this.capacity
  }

  private distance(from: number, to: number): number {
    return (to - from + this.epoch) % this.epoch
  }
}
