/**
 * One positional read(2), as a promise. Small reads run synchronously: a
 * memory image read comes from the page cache (or /proc/PID/mem) in about a
 * microsecond, while a trip through libuv's thread pool costs ~20 µs and
 * dominated 4 KiB reads. The price is that a small read of a cold disk block
 * holds the event loop for one disk access; large reads stay asynchronous so
 * a long copy never stalls other clients.
 */
import { read as fsRead, readSync } from 'node:fs'

/** Reads up to this size are done synchronously. */
export const SYNC_READ_MAX_BYTES = 64 * 1024

export function preadInto(fd: number, buffer: Uint8Array, at: number, length: number, position: number): Promise<number> {
  if (length <= SYNC_READ_MAX_BYTES) {
    try {
      return Promise.resolve(readSync(fd, buffer, at, length, position))
    } catch (err) {
      return Promise.reject(err)
    }
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
