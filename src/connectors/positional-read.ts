/**
 * One positional read(2), as a promise. Small reads run synchronously: a
 * memory image read comes from the page cache (or /proc/PID/mem) in about a
 * microsecond, while a trip through libuv's thread pool costs ~20 µs and
 * dominated 4 KiB reads. The price is that a small read of a cold disk block
 * holds the event loop for one disk access.
 *
 * Large reads take what the page cache holds synchronously too, when the
 * mmap addon is built (preadv2 with RWF_NOWAIT never waits for a disk): a
 * 1 MiB copy from the cache is ~100 µs, against a thread-pool hop that
 * halved bulk throughput. At most SYNC_BYTES_PER_TURN are read so per
 * event-loop turn; past that, and for whatever is not cached (or a file
 * that cannot say, like tmpfs or /proc/PID/mem), the read goes to the
 * thread pool as before, so a long copy never stalls other clients.
 */
import { read as fsRead, readSync } from 'node:fs'
import { mmapAddon, NOWAIT_NOTHING_CACHED, NOWAIT_UNSUPPORTED } from '../addons/index.js'

/** Reads up to this size are done synchronously. */
export const SYNC_READ_MAX_BYTES = 64 * 1024
/** Bytes of large reads copied from the page cache synchronously before the event loop gets a turn. */
export const SYNC_BYTES_PER_TURN = 16 * 1024 * 1024

let syncBytesThisTurn = 0
let turnResetQueued = false

function newTurn(): void {
  syncBytesThisTurn = 0
  turnResetQueued = false
}

/** What the page cache gave synchronously (possibly short), or undefined: read asynchronously. */
function fromPageCache(fd: number, buffer: Uint8Array, at: number, length: number, position: number): number | undefined {
  const addon = mmapAddon()
  if (addon === undefined || syncBytesThisTurn >= SYNC_BYTES_PER_TURN) return undefined
  const got = addon.preadNowait(fd, buffer, at, length, position)
  if (got === NOWAIT_NOTHING_CACHED || got === NOWAIT_UNSUPPORTED) return undefined
  syncBytesThisTurn += got
  if (!turnResetQueued) { turnResetQueued = true; setImmediate(newTurn) }
  return got
}

export function preadInto(fd: number, buffer: Uint8Array, at: number, length: number, position: number): Promise<number> {
  try {
    if (length <= SYNC_READ_MAX_BYTES) return Promise.resolve(readSync(fd, buffer, at, length, position))
    const cached = fromPageCache(fd, buffer, at, length, position)
    if (cached !== undefined) return Promise.resolve(cached)
  } catch (err) {
    return Promise.reject(err)
  }
  return new Promise((resolve, reject) => {
    fsRead(fd, buffer, at, length, position, (err, bytesRead) => (err !== null ? reject(err) : resolve(bytesRead)))
  })
}

/** Fills a fresh buffer from `position`, stopping early only where the fd has no more (end of file). */
export async function readAtMost(fd: number, position: number, length: number): Promise<Uint8Array> {
  const bytes = new Uint8Array(length)
  let done = 0
  while (done < length) {
    const n = await preadInto(fd, bytes, done, length - done, position + done)
    if (n === 0) break
    done += n
  }
  return done === length ? bytes : bytes.subarray(0, done)
}
