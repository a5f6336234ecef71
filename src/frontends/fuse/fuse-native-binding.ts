/**
 * A typed door to `fuse-native` (which ships no typings; libfuse 2): exactly
 * the callbacks and options this frontend uses. The package is loaded lazily
 * through require and narrowed with guards, so importing the frontend never
 * needs libfuse, and nothing untyped leaks past this file. It is the
 * fallback where the libfuse 3 addon is not built (see fuse-binding.ts).
 *
 * Callback convention of fuse-native: the first argument is the result:
 * 0 or a byte count on success, a negative errno on failure.
 */
import { execFile } from 'node:child_process'
import { createRequire } from 'node:module'
import { MemweaveError } from '../../errors/index.js'
import type { FuseMount, FuseMountSettings, FuseOperations } from './fuse-binding.js'
import { mountAt } from './mountpoint.js'

interface FuseInstance {
  mount(done: (err: Error | null) => void): void
  unmount(done: (err: Error | null) => void): void
}

interface FuseClass {
  new (mountpoint: string, ops: FuseOperations, options: Record<string, unknown>): unknown
  readonly EIO: number
}

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

/** A mounted (or mountable) filesystem: promise wrappers around fuse-native's callbacks. */
export class FuseNativeBinding implements FuseMount {
  readonly implementation = 'fuse-native'
  private readonly instance: FuseInstance

  constructor(readonly mountpoint: string, ops: FuseOperations, settings: FuseMountSettings) {
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
