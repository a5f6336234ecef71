/**
 * Opening a file a client named, with the daemon's privileges: every such
 * path is treated as an attack. The path is resolved (symlinks included)
 * and must lie under an allowed root; it must be a regular file — checked
 * with stat before any open, then again on the descriptor, which is opened
 * O_NONBLOCK (a FIFO swapped in between cannot block the libuv pool) — and
 * never under /proc, /sys or /dev (no /proc/PID/mem through `file:`). The
 * descriptor's own path is read back and checked against the roots again.
 * A write descriptor is only made when asked and when the file's mode lets
 * its owner write (root could write a 0400 file; we do not).
 */
import { close, constants, fstat, open, readSync } from 'node:fs'
import type { Stats } from 'node:fs'
import { readlink, realpath, stat } from 'node:fs/promises'
import { promisify } from 'node:util'
import { resolve, sep } from 'node:path'
import { MemweaveError, quote, toMemweaveError } from '../errors/index.js'
import type { ErrorOrigin } from '../errors/index.js'

export interface CheckedOpenOptions {
  /** The layer refusals are reported from (the one whose user named the path: connector, os, plugin, node). */
  readonly origin: ErrorOrigin
  /** Allowed roots; undefined: any path (the daemon's own config, or an in-process node). */
  readonly roots: readonly string[] | undefined
  /** Open for writing too (only if the file's mode lets its owner write). */
  readonly write?: boolean
  /** What the path is, for messages ('file:', 'token-file', 'plugin'). */
  readonly what: string
  /** Largest size accepted (token files, certificates). */
  readonly maxBytes?: number
  /** How to allow another root, for the refusal ('serve --file-root DIR'). */
  readonly rootHint?: string
}

export interface CheckedFile {
  readonly fd: number
  readonly path: string
  readonly writable: boolean
  readonly stats: Stats
}

// Raw descriptors (not FileHandles, which close themselves when garbage collected): the connector keeps the fd.
const openFd = promisify(open)
const fstatFd = promisify(fstat)
const closeFd = promisify(close)

const SYSTEM_TREES = ['/proc', '/sys', '/dev']
// tmpfs RAM files (a VM started with a shared memory backend) live here; they are
// regular files like any dump, so only the roots decide, as for any other path.
const SHARED_MEMORY_TREES = ['/dev/shm', '/dev/hugepages']

function refuse(options: CheckedOpenOptions, kind: 'permission' | 'invalid_argument' | 'too_large', message: string): MemweaveError {
  return new MemweaveError(options.origin, kind, message)
}

function under(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : `${root}${sep}`)
}

/** The roots as real paths (a root that does not exist allows nothing). */
async function realRoots(roots: readonly string[]): Promise<{ real: string[]; shown: string[] }> {
  const found = await Promise.all(roots.map((root) => realpath(resolve(root)).catch(() => undefined)))
  return { real: found.filter((r): r is string => r !== undefined), shown: roots.map((r) => resolve(r)) }
}

function checkPlace(real: string, given: string, roots: { real: string[]; shown: string[] } | undefined, options: CheckedOpenOptions): void {
  if (SYSTEM_TREES.some((tree) => under(real, tree)) && !SHARED_MEMORY_TREES.some((tree) => under(real, tree))) {
    throw refuse(options, 'permission', `${options.what} ${given}: files under /proc, /sys and /dev (but /dev/shm) are refused`)
  }
  if (roots !== undefined && !roots.real.some((root) => under(real, root))) {
    const shown = real === given ? '' : ` (it resolves to ${real})`
    const allowed = roots.shown.length === 0 ? 'none is configured' : roots.shown.join(', ')
    throw refuse(options, 'permission', `${options.what} ${given}${shown} is outside the allowed roots (${allowed})${options.rootHint === undefined ? '' : `; allow a folder with ${options.rootHint}`}`)
  }
}

function checkRegular(info: Stats, given: string, options: CheckedOpenOptions): void {
  if (!info.isFile()) {
    const what = info.isFIFO() ? 'a FIFO' : info.isCharacterDevice() || info.isBlockDevice() ? 'a device' : info.isSocket() ? 'a socket' : info.isDirectory() ? 'a directory' : 'not a file'
    throw refuse(options, 'invalid_argument', `${options.what} ${given} is ${what}, not a regular file`)
  }
  if (options.maxBytes !== undefined && info.size > options.maxBytes) {
    throw refuse(options, 'too_large', `${options.what} ${given} is ${info.size} bytes, more than the ${options.maxBytes} accepted`)
  }
}

export async function openCheckedFile(given: string, options: CheckedOpenOptions): Promise<CheckedFile> {
  const absolute = resolve(given)
  const roots = options.roots === undefined ? undefined : await realRoots(options.roots)
  let real: string
  try {
    real = await realpath(absolute)
  } catch (err) {
    throw toMemweaveError(err, options.origin, `cannot open ${options.what} ${quote(absolute)}`)
  }
  checkPlace(real, absolute, roots, options)
  // stat opens nothing: a FIFO or device is refused before any open could block or have an effect.
  checkRegular(await stat(real), absolute, options)
  let fd: number
  try {
    fd = await openFd(real, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW | constants.O_NOCTTY)
  } catch (err) {
    throw toMemweaveError(err, options.origin, `cannot open ${options.what} ${quote(absolute)}`)
  }
  try {
    const info = await fstatFd(fd)
    checkRegular(info, absolute, options)
    // Re-check what was really opened (a directory swapped for a symlink in between).
    checkPlace(await readlink(`/proc/self/fd/${fd}`), absolute, roots, options)
    if (options.write !== true || (info.mode & 0o200) === 0) return { fd, path: real, writable: false, stats: info }
    // Reopened through the descriptor: the very file checked above, now read-write.
    const rw = await openFd(`/proc/self/fd/${fd}`, constants.O_RDWR | constants.O_NONBLOCK | constants.O_NOCTTY)
    await closeFd(fd)
    return { fd: rw, path: real, writable: true, stats: info }
  } catch (err) {
    await closeFd(fd).catch(() => undefined)
    throw err
  }
}

/** Reads a whole small file a client named (token file, CA certificate) under the same rules. */
export async function readCheckedFile(given: string, options: CheckedOpenOptions & { readonly maxBytes: number }): Promise<Buffer> {
  const file = await openCheckedFile(given, options)
  try {
    const buffer = Buffer.alloc(Number(file.stats.size))
    let done = 0
    while (done < buffer.length) {
      const n = readSync(file.fd, buffer, done, buffer.length - done, done)
      if (n === 0) break
      done += n
    }
    return buffer.subarray(0, done)
  } finally {
    await closeFd(file.fd)
  }
}
