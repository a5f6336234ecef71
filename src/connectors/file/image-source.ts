/**
 * Where format parsers read headers from: a file descriptor (with a small
 * read-ahead window, so a LiME file's many close headers cost few syscalls)
 * or a byte array (tests). Also the 'malformed' error every parser throws.
 */
import { preadInto, readAtMost } from '../positional-read.js'
import { MemweaveError } from '../../errors/index.js'

export interface ImageSource {
  /** Shown in errors: the file's path. */
  readonly name: string
  readonly sizeBytes: number
  /** Up to `length` bytes at `offset`; shorter only at the end of the file. */
  read(offset: number, length: number): Promise<Uint8Array>
}

/** A clean error for a broken image, naming the file. */
export function malformed(source: ImageSource, problem: string): MemweaveError {
  return new MemweaveError('connector', 'malformed', `${source.name}: ${problem}`)
}

/** Reads exactly `length` bytes or throws 'malformed' saying what was cut off. */
export async function readStruct(source: ImageSource, offset: number, length: number, what: string): Promise<Uint8Array> {
  if (offset + length > source.sizeBytes) {
    throw malformed(source, `truncated ${what}: needs ${length} bytes at offset ${offset}, but the file has ${source.sizeBytes}`)
  }
  const bytes = await source.read(offset, length)
  if (bytes.length < length) throw malformed(source, `truncated ${what} at offset ${offset} (file shrank while reading?)`)
  return bytes
}

export function bufferSource(name: string, bytes: Uint8Array): ImageSource {
  return {
    name,
    sizeBytes: bytes.length,
    read: async (offset, length) => bytes.subarray(offset, Math.min(bytes.length, offset + length)),
  }
}

const WINDOW_BYTES = 64 * 1024

/** Positional reads on an open fd; small reads are served from a 64 KiB window. */
export function fdSource(name: string, fd: number, sizeBytes: number): ImageSource {
  let window: { offset: number; bytes: Uint8Array } | undefined
  return {
    name,
    sizeBytes,
    read: async (offset, length) => {
      if (window !== undefined && offset >= window.offset && offset + length <= window.offset + window.bytes.length) {
        return window.bytes.subarray(offset - window.offset, offset - window.offset + length)
      }
      const want = Math.min(Math.max(length, WINDOW_BYTES), Math.max(0, sizeBytes - offset))
      const bytes = await readAtMost(fd, offset, want)
      window = { offset, bytes }
      return bytes.subarray(0, Math.min(length, bytes.length))
    },
  }
}

/** One positional read (synchronous when small: see positional-read.ts). */
export const readInto = preadInto
