/**
 * A typed door to `fuse-native` (which ships no typings): exactly the
 * callbacks, options and errno constants this frontend uses. The package is
 * loaded lazily through require and narrowed with guards, so importing the
 * frontend never needs libfuse, and nothing untyped leaks past this file.
 *
 * Callback convention of fuse-native: the first argument is the result:
 * 0 or a byte count on success, a negative errno on failure.
 */
import { execFile } from 'node:child_process'
import { createRequire } from 'node:module'
import { MemweaveError } from '../../errors/index.js'
import { mountAt } from './mountpoint.js'

export type FuseDone = (result: number) => void

/** Fields fuse-native packs into `struct stat` (times are Dates; sizes are numbers). */
export interface FuseStat {
  readonly mode: number
  readonly uid: number
  readonly gid: number
  readonly size: number
  readonly nlink: number
  readonly blksize: number
  readonly blocks: number
  readonly atime: Date
  readonly mtime: Date
  readonly ctime: Date
}

export interface FuseStatfs {
  readonly bsize: number
  readonly frsize: number
  readonly blocks: number
  readonly bfree: number
  readonly bavail: number
  readonly files: number
  readonly ffree: number
  readonly favail: number
  readonly fsid: number
  readonly flag: number
  readonly namemax: number
}

/** The operations we implement; fuse-native registers only the ones present. */
export interface FuseOperations {
  init(done: FuseDone): void
  statfs(path: string, done: (result: number, statfs?: FuseStatfs) => void): void
  getattr(path: string, done: (result: number, stat?: FuseStat) => void): void
  readdir(path: string, done: (result: number, names?: string[]) => void): void
  open(path: string, flags: number, done: (result: number, fd?: number) => void): void
  release(path: string, fd: number, done: FuseDone): void
  /** `offset` (fuse-native names it position) is a double: exact only up to 2^53. */
  read(path: string, fd: number, buffer: Buffer, length: number, offset: number, done: FuseDone): void
  write(path: string, fd: number, buffer: Buffer, length: number, offset: number, done: FuseDone): void
  truncate(path: string, size: number, done: FuseDone): void
  ftruncate(path: string, fd: number, size: number, done: FuseDone): void
  utimens(path: string, atime: number, mtime: number, done: FuseDone): void
  create(path: string, mode: number, done: (result: number, fd?: number) => void): void
}

export interface FuseMountSettings {
  readonly allowOther: boolean
  readonly fsname: string
  readonly maxReadBytes: number
  /**
   * libfuse options fuse-native has no switch for (ro, direct_io, timeouts
   * of 0, default_permissions). fuse-native joins every option into one
   * `-o a,b,c` argument after `fsname=`, so these ride along after it.
   */
  readonly extraOptions: readonly string[]
  readonly debug: boolean
}

interface FuseInstance {
  mount(done: (err: Error | null) => void): void
  unmount(done: (err: Error | null) => void): void
}

interface FuseClass {
  new (mountpoint: string, ops: FuseOperations, options: Record<string, unknown>): unknown
  readonly EIO: number
}

const OPTION_SHAPE = /^[a-z_]+(=[A-Za-z0-9_.]+)?$/

let loaded: FuseClass | undefined

function isFuseClass(value: unknown): value is FuseClass {
  if (typeof value !== 'function') return false
  const proto: unknown = value.prototype
  return 'EIO' in value && typeof value.EIO === 'number' && typeof proto === 'object' && proto !== null
    && 'mount' in proto && typeof proto.mount === 'function' && 'unmount' in proto && typeof proto.unmount === 'function'
}

function isFuseInstance(value: unknown): value is FuseInstance {
  return typeof value === 'object' && value !== null && 'mount' in value && typeof value.mount === 'function'
    && 'unmount' in value && typeof value.unmount === 'function'
}

function fuseClass(): FuseClass {
  if (loaded !== undefined) return loaded
  let module: unknown
  try {
    module = createRequire(import.meta.url)('fuse-native')
  } catch (err) {
    throw new MemweaveError('fuse', 'unsupported', 'the fuse-native module cannot be loaded (is libfuse2 installed?)', { cause: err })
  }
  if (!isFuseClass(module)) throw new MemweaveError('fuse', 'internal', 'fuse-native does not export the Fuse class this frontend expects')
  // Its own version runs fusermount through a shell, and when the mount is already gone (someone ran
  // fusermount -u) it fails and skips its native cleanup, leaving a handle that keeps the process alive.
  Reflect.set(module, 'unmount', lazyUnmount)
  loaded = module
  return module
}

/** fusermount -u -z without a shell; a mountpoint that is no longer mounted counts as unmounted. */
function lazyUnmount(mountpoint: string, done: (err: Error | null) => void): void {
  execFile('fusermount', ['-u', '-z', mountpoint], (err) => {
    if (err === null) { done(null); return }
    mountAt(mountpoint).then((still) => done(still === undefined ? null : err), () => done(err))
  })
}

/** fuse-native's (negative) errno for a POSIX name such as 'ENOENT'; EIO for a name it does not know. */
export function fuseErrno(name: string): number {
  const fuse = fuseClass()
  const value: unknown = Reflect.get(fuse, name)
  return typeof value === 'number' && value < 0 ? value : fuse.EIO
}

/** A mounted (or mountable) filesystem: promise wrappers around fuse-native's callbacks. */
export class FuseBinding {
  private readonly instance: FuseInstance

  constructor(readonly mountpoint: string, ops: FuseOperations, settings: FuseMountSettings) {
    for (const option of settings.extraOptions) {
      if (!OPTION_SHAPE.test(option)) throw new MemweaveError('fuse', 'invalid_argument', `mount option '${option}' is not a plain name[=value]`)
    }
    if (!OPTION_SHAPE.test(`fsname=${settings.fsname}`)) throw new MemweaveError('fuse', 'invalid_argument', `fsname '${settings.fsname}' has characters libfuse options cannot carry`)
    const Fuse = fuseClass()
    const instance = new Fuse(mountpoint, ops, {
      fsname: [settings.fsname, ...settings.extraOptions].join(','),
      maxRead: settings.maxReadBytes,
      allowOther: settings.allowOther,
      debug: settings.debug,
      // Our handlers bound their own time (a late answer must never touch a buffer libfuse has reused).
      timeout: false,
      force: false,
      mkdir: false,
    })
    if (!isFuseInstance(instance)) throw new MemweaveError('fuse', 'internal', 'fuse-native returned an object without mount/unmount')
    this.instance = instance
  }

  mount(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.instance.mount((err) => {
        if (err === null || err === undefined) resolve()
        else reject(new MemweaveError('fuse', 'io', `cannot mount on ${this.mountpoint}: ${err.message}`, { cause: err }))
      })
    })
  }

  unmount(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.instance.unmount((err) => {
        if (err === null || err === undefined) resolve()
        else reject(new MemweaveError('fuse', 'busy', `cannot unmount ${this.mountpoint}: ${err.message}`, { cause: err }))
      })
    })
  }
}
