/**
 * The frontend's door to FUSE: the operations a filesystem implements (the
 * path-based callbacks of libfuse's high-level API, as fuse-native names
 * them), and the choice of the binding that serves them:
 *
 *   libfuse3     build/native/fuse3.node (native/fuse3): libfuse 3's low-level
 *                API, 1 MiB requests, every request queued by a native
 *                thread and handed over in batches (fuse3-binding.ts).
 *   fuse-native  the npm package on libfuse 2: 128 KiB requests, one libfuse
 *                thread crossing per request (fuse-native-binding.ts).
 *
 * libfuse3 is the default wherever its addon is built and it can mount (root
 * mounts with mount(2); others need fusermount3); otherwise fuse-native
 * (also with MEMWEAVE_NATIVE=0, which turns every addon off).
 * MEMWEAVE_FUSE=libfuse3|fuse-native (or the `implementation` setting)
 * forces one. Callback convention: the first argument is the result: 0 or a
 * byte count on success, a negative errno on failure.
 */
import { existsSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { fuse3AddonAbsence } from '../../addons/index.js'
import { MemweaveError } from '../../errors/index.js'
import type { FileSpans } from '../../net/index.js'
import type { DirectReadMap } from './direct-reads.js'
import { Fuse3Binding } from './fuse3-binding.js'
import { FuseNativeBinding } from './fuse-native-binding.js'

export type FuseImplementation = 'libfuse3' | 'fuse-native'
export const FUSE_IMPLEMENTATIONS: readonly FuseImplementation[] = ['libfuse3', 'fuse-native']

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
  /**
   * The same read answered with the bytes themselves (up to `length`), so a
   * binding that can reply from any buffer (libfuse 3) copies nothing here;
   * or with spans of plain files (an image file in this process), which the
   * binding answers from the files itself and then releases (always).
   */
  readData?(path: string, fd: number, length: number, offset: number, done: (result: number, data?: Uint8Array | FileSpans) => void): void
  /**
   * For a binding that answers reads itself (libfuse 3): the map of a file
   * just opened (call it inside open's done), or undefined (reads come here).
   */
  directReads?(fd: number): DirectReadMap | undefined
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
  /** Which binding serves the mount (default: chooseFuseImplementation()). */
  readonly implementation?: FuseImplementation
}

/** A mounted (or mountable) filesystem, whichever binding serves it. */
export interface FuseMount {
  readonly mountpoint: string
  readonly implementation: FuseImplementation
  mount(): Promise<void>
  /** Lazy: open files keep being answered until the kernel releases them. */
  unmount(): Promise<void>
  /**
   * Resolves once the kernel connection is gone (unmounted and the last file
   * closed), where the binding can tell (libfuse3): a release the kernel
   * still had queued then is dropped with the connection, never sent.
   */
  sessionEnded?(): Promise<void>
  /** Reads the binding answered itself, without JS (direct-reads.ts), and files it does so for now (libfuse3 only). */
  readonly directReads?: { readonly reads: number; readonly files: number }
}

const OPTION_SHAPE = /^[a-z_]+(=[A-Za-z0-9_.]+)?$/

function isImplementation(value: string): value is FuseImplementation {
  return FUSE_IMPLEMENTATIONS.some((i) => i === value)
}

function onPath(command: string): boolean {
  return (process.env.PATH ?? '/usr/bin:/bin').split(delimiter).some((dir) => dir !== '' && existsSync(join(dir, command)))
}

/** Why the libfuse3 binding cannot mount here, or undefined when it can. */
export function libfuse3Unavailable(): string | undefined {
  const absent = fuse3AddonAbsence()
  if (absent !== undefined) return `the libfuse3 addon is absent: ${absent}`
  if (process.getuid?.() !== 0 && !onPath('fusermount3')) return 'not root and fusermount3 is not installed'
  return undefined
}

/**
 * The binding a mount uses: `forced` (or MEMWEAVE_FUSE) when given, else
 * libfuse3 where it can mount, else fuse-native.
 */
export function chooseFuseImplementation(forced: string | undefined = process.env.MEMWEAVE_FUSE): FuseImplementation {
  if (forced !== undefined && forced !== '') {
    if (!isImplementation(forced)) throw new MemweaveError('fuse', 'invalid_argument', `unknown FUSE binding '${forced}' (MEMWEAVE_FUSE is libfuse3 or fuse-native)`)
    if (forced === 'libfuse3') {
      const why = libfuse3Unavailable()
      if (why !== undefined) throw new MemweaveError('fuse', 'unsupported', `the libfuse3 binding was asked for, but ${why}`)
    }
    return forced
  }
  return libfuse3Unavailable() === undefined ? 'libfuse3' : 'fuse-native'
}

/** A binding for the mountpoint, not mounted yet. */
export function openFuseBinding(mountpoint: string, ops: FuseOperations, settings: FuseMountSettings): FuseMount {
  for (const option of settings.extraOptions) {
    if (!OPTION_SHAPE.test(option)) throw new MemweaveError('fuse', 'invalid_argument', `mount option '${option}' is not a plain name[=value]`)
  }
  if (!OPTION_SHAPE.test(`fsname=${settings.fsname}`)) throw new MemweaveError('fuse', 'invalid_argument', `fsname '${settings.fsname}' has characters libfuse options cannot carry`)
  const implementation = settings.implementation ?? chooseFuseImplementation()
  return implementation === 'libfuse3' ? new Fuse3Binding(mountpoint, ops, settings) : new FuseNativeBinding(mountpoint, ops, settings)
}
