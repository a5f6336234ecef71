/**
 * The typed door to build/native/fuse3.node (native/fuse3/fuse3.c), memweave's
 * binding to libfuse 3's low-level API. The addon is built by
 * scripts/build-native.sh (run by scripts/setup.sh); where it is absent (the
 * npm package, a machine without a compiler) `loadFuse3` says why, and the
 * frontend falls back to fuse-native.
 *
 * Requests arrive in batches: one Float64Array of RECORD numbers per request
 * (slot, op, ino, fh, off, size, flags, extra) and, beside it, the names
 * (lookup, create, mknod) and written bytes (write) by request index.
 */
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { MemweaveError } from '../../errors/index.js'

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
  /** spans: [fd, pos, length] triples (fd -1: zeros), answered from the files (splice where the kernel allows). */
  replySpans(handle: Fuse3Handle, slot: number, spans: Float64Array): void
  /** stat: [ino, mode, nlink, uid, gid, size, blksize, blocks, atimeMs, mtimeMs, ctimeMs]. */
  replyEntry(handle: Fuse3Handle, slot: number, stat: Float64Array, entryTimeoutS: number, attrTimeoutS: number): void
  replyAttr(handle: Fuse3Handle, slot: number, stat: Float64Array, attrTimeoutS: number): void
  replyOpen(handle: Fuse3Handle, slot: number, fh: number, directIo: boolean): void
  replyWrite(handle: Fuse3Handle, slot: number, count: number): void
  replyStatfs(handle: Fuse3Handle, slot: number, statfs: Float64Array): void
  replyDir(handle: Fuse3Handle, slot: number, names: readonly string[], inos: Float64Array, from: number, size: number): void
}

const FUNCTIONS = ['mount', 'unmount', 'unref', 'destroy', 'replyErr', 'replyBuf', 'replySpans', 'replyEntry', 'replyAttr', 'replyOpen', 'replyWrite',
  'replyStatfs', 'replyDir'] as const

function isAddon(value: unknown): value is Fuse3Addon {
  if (typeof value !== 'object' || value === null) return false
  return FUNCTIONS.every((name) => typeof Reflect.get(value, name) === 'function') && typeof Reflect.get(value, 'libfuseVersion') === 'number'
}

/** build/native/fuse3.node from the source tree (src/…) or the compiled one (dist/src/…). */
export function fuse3AddonPath(): string | undefined {
  for (const up of ['../../../', '../../../../']) {
    const path = fileURLToPath(new URL(`${up}build/native/fuse3.node`, import.meta.url))
    if (existsSync(path)) return path
  }
  return undefined
}

let loaded: Fuse3Addon | undefined

/** The addon, or a MemweaveError ('unsupported') saying why it cannot be used. */
export function loadFuse3(): Fuse3Addon {
  if (loaded !== undefined) return loaded
  const path = fuse3AddonPath()
  if (path === undefined) throw new MemweaveError('fuse', 'unsupported', 'the libfuse3 addon is not built (run scripts/build-native.sh; needs libfuse3-dev and gcc)')
  let module: unknown
  try {
    module = createRequire(import.meta.url)(path)
  } catch (err) {
    throw new MemweaveError('fuse', 'unsupported', `the libfuse3 addon ${path} cannot be loaded (is libfuse3-3 installed?)`, { cause: err })
  }
  if (!isAddon(module)) throw new MemweaveError('fuse', 'internal', `${path} does not export the functions of native/fuse3`)
  loaded = module
  return module
}
