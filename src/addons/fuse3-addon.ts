/**
 * The libfuse 3 addon (native/fuse3): libfuse 3's low-level API for the FUSE
 * frontend (src/frontends/fuse/fuse3-binding.ts). Absent (undefined) without
 * a build or with MEMWEAVE_NATIVE=0; the frontend then mounts with
 * fuse-native (libfuse 2).
 *
 * Requests arrive in batches: one Float64Array of RECORD numbers per request
 * (slot, op, ino, fh, off, size, flags, extra) and, beside it, the names
 * (lookup, create, mknod) and written bytes (write) by request index.
 * Reads of files registered with directReads are answered by the addon
 * itself and never reach JS (while their lease holds).
 */
import { loadAddon } from './load-addon.js'

export const RECORD = 8
/** Operation codes of the records (the enum of fuse3.c). */
export const OP = {
  end: 0, lookup: 1, forget: 2, getattr: 3, setattr: 4, open: 5, read: 6, write: 7,
  release: 8, opendir: 9, readdir: 10, releasedir: 11, statfs: 12, create: 13, mknod: 14,
} as const

/** An opaque mount handle of the addon. */
export interface Fuse3Handle { readonly __fuse3Handle: unique symbol }

export type BatchListener = (records: Float64Array, extras: readonly (string | Buffer | undefined)[] | undefined) => void

export interface Fuse3Addon {
  readonly libfuseVersion: number
  mount(mountpoint: string, args: readonly string[], onBatch: BatchListener): Fuse3Handle
  /** Lazy umount2 (needs root); 0 or an errno. */
  unmount(handle: Fuse3Handle): number
  unref(handle: Fuse3Handle): void
  destroy(handle: Fuse3Handle): void
  replyErr(handle: Fuse3Handle, slot: number, errno: number): void
  replyBuf(handle: Fuse3Handle, slot: number, data: Uint8Array, length: number): void
  /** spans: [fd, pos, length] triples (fd -1: zeros), read by the addon into the buffer it keeps and written to /dev/fuse (no splice: it measured slower). */
  replySpans(handle: Fuse3Handle, slot: number, spans: Float64Array): void
  /** stat: [ino, mode, nlink, uid, gid, size, blksize, blocks, atimeMs, mtimeMs, ctimeMs]. */
  replyEntry(handle: Fuse3Handle, slot: number, stat: Float64Array, entryTimeoutS: number, attrTimeoutS: number): void
  replyAttr(handle: Fuse3Handle, slot: number, stat: Float64Array, attrTimeoutS: number): void
  replyOpen(handle: Fuse3Handle, slot: number, fh: number, directIo: boolean): void
  replyWrite(handle: Fuse3Handle, slot: number, count: number): void
  replyStatfs(handle: Fuse3Handle, slot: number, statfs: Float64Array): void
  replyDir(handle: Fuse3Handle, slot: number, names: readonly string[], inos: Float64Array, from: number, size: number): void
  /**
   * Reads of fh are answered by the addon itself while the lease holds (no JS): from a duplicate of fd at
   * the extents ([addr, length, pos] triples, sorted; pos -1: zeros), empty at or past size. A read the
   * extents cannot answer exactly (no extent, a failed or short pread, a lapsed lease) comes to JS as usual.
   */
  directReads(handle: Fuse3Handle, fh: number, fd: number, size: number, extents: Float64Array, leaseMs: number): void
  /** Renews fh's lease; false when fh has no map. */
  leaseDirect(handle: Fuse3Handle, fh: number, leaseMs: number): boolean
  /** Reads of fh go to JS again. */
  dropDirect(handle: Fuse3Handle, fh: number): void
  /** [reads the addon answered itself, files with a map]. */
  directStats(handle: Fuse3Handle): [number, number]
}

const FUNCTIONS = ['mount', 'unmount', 'unref', 'destroy', 'replyErr', 'replyBuf', 'replySpans', 'replyEntry', 'replyAttr', 'replyOpen',
  'replyWrite', 'replyStatfs', 'replyDir', 'directReads', 'leaseDirect', 'dropDirect', 'directStats'] as const satisfies readonly (keyof Fuse3Addon)[]

let loaded: ReturnType<typeof loadAddon<Fuse3Addon>> | undefined

function load(): ReturnType<typeof loadAddon<Fuse3Addon>> {
  loaded ??= loadAddon<Fuse3Addon>('fuse3', FUNCTIONS)
  return loaded
}

/** The addon, or undefined (then the FUSE frontend uses fuse-native). */
export function fuse3Addon(): Fuse3Addon | undefined {
  return load().addon
}

/** Why the addon is absent, or undefined when it is loaded. */
export function fuse3AddonAbsence(): string | undefined {
  return load().reason
}
