/**
 * The mmap addon (native/mmap): maps a file into memory (the data ring, so
 * the daemon reads a source straight into it and the client copies out of
 * it once), reads only what the page cache holds without blocking
 * (preadv2 RWF_NOWAIT, so a bulk read from cache needs no thread-pool trip),
 * sizes pipes (the CLI's stdout), and frees a buffer the daemon is done with
 * at once (not when the collector gets to it). Absent (undefined) without a build.
 */
import { loadAddon } from './load-addon.js'

export interface MmapAddon {
  /** The first `length` bytes of fd, mapped shared read/write; unmapped when the ArrayBuffer is collected. */
  map(fd: number, length: number): ArrayBuffer
  /** posix_fallocate of [offset, offset+length): writes through a mapping never meet a hole a full tmpfs cannot fill (SIGBUS); throws ENOSPC. */
  allocate(fd: number, offset: number, length: number): void
  /** Bytes read from the page cache into view[at..]; NOWAIT_NOTHING_CACHED, NOWAIT_UNSUPPORTED, or throws (errno code). */
  preadNowait(fd: number, view: Uint8Array, at: number, length: number, position: number): number
  /** fcntl(F_SETPIPE_SZ): the pipe's new size, or -errno. */
  setPipeSize(fd: number, bytes: number): number
  /** Detaches the ArrayBuffer (its views become empty) so its memory is freed now; only for memory no i/o still uses. */
  free(buffer: ArrayBuffer): void
}

/** preadNowait: not one byte was in the page cache. */
export const NOWAIT_NOTHING_CACHED = -1
/** preadNowait: the file cannot be read without waiting (tmpfs, /proc): use a plain read. */
export const NOWAIT_UNSUPPORTED = -2

let loaded: ReturnType<typeof loadAddon<MmapAddon>> | undefined

function load(): ReturnType<typeof loadAddon<MmapAddon>> {
  loaded ??= loadAddon<MmapAddon>('mmap', ['map', 'allocate', 'preadNowait', 'setPipeSize', 'free'])
  return loaded
}

/** The addon, or undefined (then callers take their pure-Node path). */
export function mmapAddon(): MmapAddon | undefined {
  return load().addon
}

/** Why the addon is absent, or undefined when it is loaded. */
export function mmapAddonAbsence(): string | undefined {
  return load().reason
}

/** For tests of both paths in one process: forget the load, so the next call looks again (MEMWEAVE_NATIVE is read anew). */
export function reloadMmapAddon(): void {
  loaded = undefined
}
