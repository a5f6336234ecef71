/**
 * Reading /proc files with the errors memweave uses: a vanished process
 * (ENOENT, ESRCH) is `undefined` to the caller, refused access is a
 * 'permission' error naming the file, anything else an 'io' error.
 */
import { read as readCallback, write as writeCallback } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { toMemweaveError } from '../../errors/index.js'

export function isGone(err: unknown): boolean {
  const code = typeof err === 'object' && err !== null && 'code' in err ? err.code : undefined
  return code === 'ENOENT' || code === 'ESRCH'
}

/** The file's bytes, or undefined when the process (or the file) is gone. */
export async function readProcFile(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path)
  } catch (err) {
    if (isGone(err)) return undefined
    throw toMemweaveError(err, 'os', `cannot read ${path}`)
  }
}

export async function readProcText(path: string): Promise<string | undefined> {
  return (await readProcFile(path))?.toString('utf8')
}

/** Runs fn over items with at most `limit` in flight, keeping order. */
export async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [] // filled by index as the calls finish
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i] as T)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return out
}

/**
 * pread at a 64-bit position. FileHandle.read of Node 20 mishandles bigint
 * positions (reads fail with EIO), while the callback API takes them, so
 * positional reads go through the file descriptor.
 */
export function preadAt(fd: number, buffer: Uint8Array, offset: number, length: number, position: bigint): Promise<number> {
  return new Promise((resolve, reject) => {
    readCallback(fd, buffer, offset, length, position, (err, bytesRead) => { if (err === null) resolve(bytesRead); else reject(err) })
  })
}

/** pwrite; positions beyond 2^53 are refused by the caller (no user address is that high). */
export function pwriteAt(fd: number, data: Uint8Array, offset: number, length: number, position: bigint): Promise<number> {
  return new Promise((resolve, reject) => {
    writeCallback(fd, data, offset, length, Number(position), (err, bytesWritten) => { if (err === null) resolve(bytesWritten); else reject(err) })
  })
}
