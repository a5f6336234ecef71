/**
 * Checks a mountpoint before mounting. A dead FUSE mount left by a killed
 * process (stat fails with ENOTCONN, "Transport endpoint is not connected")
 * is cleared with a lazy unmount; a live mount of anything is refused with
 * what is mounted there, so we never stack over someone's filesystem. A
 * user other than root is told why a mount would be refused (user-mount.ts).
 */
import { execFile } from 'node:child_process'
import { readFile, realpath, stat } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { promisify } from 'node:util'
import type { Logger } from 'pino'
import { MemweaveError, errnoCode, toMemweaveError } from '../../errors/index.js'
import { checkUserMount } from './user-mount.js'

const run = promisify(execFile)

/** A mountpoint that does not answer stat in this time is a hung filesystem, not one to mount over. */
export const STAT_TIMEOUT_MS = 5000

export interface MountRecord {
  readonly mountpoint: string
  readonly fstype: string
  readonly source: string
}

/** /proc/self/mountinfo escapes space, tab, newline and backslash as octal. */
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)))
}

/** Mounts of this mount namespace, from mountinfo text. */
export function parseMountinfo(text: string): MountRecord[] {
  const records: MountRecord[] = []
  for (const line of text.split('\n')) {
    const fields = line.split(' ')
    const separator = fields.indexOf('-', 6)
    const mountpoint = fields[4]
    if (separator < 0 || mountpoint === undefined) continue
    records.push({ mountpoint: unescapeMountField(mountpoint), fstype: fields[separator + 1] ?? '', source: unescapeMountField(fields[separator + 2] ?? '') })
  }
  return records
}

/** The topmost mount at exactly `path`, if any. */
export async function mountAt(path: string): Promise<MountRecord | undefined> {
  const text = await readFile('/proc/self/mountinfo', 'utf8')
  return parseMountinfo(text).filter((m) => m.mountpoint === path).at(-1)
}

/** The absolute path the kernel will record for `mountpoint` (symlinked parents resolved). */
async function canonical(mountpoint: string): Promise<string> {
  const absolute = resolve(mountpoint)
  try {
    return join(await realpath(dirname(absolute)), basename(absolute))
  } catch (err) {
    throw toMemweaveError(err, 'fuse', `cannot resolve mountpoint ${absolute}`)
  }
}

async function lazyUnmount(path: string, log: Logger): Promise<void> {
  try {
    await run('fusermount', ['-u', '-z', path])
    return
  } catch (err) {
    log.debug({ err, path }, 'fusermount -u -z failed; trying umount -l')
  }
  try {
    await run('umount', ['-l', path])
  } catch (err) {
    throw new MemweaveError('fuse', 'busy', `${path} holds a dead FUSE mount that could not be cleared (fusermount -u -z and umount -l failed)`, { cause: err })
  }
}

/** stat that gives up on a filesystem that never answers (its server hung, or a child inherited its /dev/fuse). */
async function isDirectoryWithin(path: string, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new MemweaveError('fuse', 'timeout',
      `${path} does not answer stat within ${timeoutMs} ms (a FUSE server that hung?); try 'fusermount -u -z ${path}'`)), timeoutMs)
  })
  try {
    return (await Promise.race([stat(path), hung])).isDirectory()
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Makes `mountpoint` ready: clears dead FUSE mounts on it, then checks it is
 * a directory with nothing mounted. Returns its canonical absolute path.
 */
export async function prepareMountpoint(mountpoint: string, log: Logger): Promise<string> {
  const path = await canonical(mountpoint)
  // fuse-native keeps the path in a 1 KiB buffer.
  if (Buffer.byteLength(path) >= 1024) throw new MemweaveError('fuse', 'invalid_argument', `mountpoint ${path.slice(0, 64)}… is 1 KiB long or more`)
  // Bounded: a stack of dead mounts is cleared one per round.
  for (let round = 0; round < 8; round++) {
    let isDirectory: boolean
    try {
      isDirectory = await isDirectoryWithin(path, STAT_TIMEOUT_MS)
    } catch (err) {
      if (err instanceof MemweaveError) throw err
      const code = errnoCode(err)
      if (code === 'ENOENT') throw new MemweaveError('fuse', 'not_found', `mountpoint ${path} does not exist (create the directory first)`, { cause: err })
      if (code !== 'ENOTCONN' && code !== 'ECONNABORTED') throw toMemweaveError(err, 'fuse', `cannot use ${path} as a mountpoint`)
      const dead = await mountAt(path)
      if (dead === undefined || !dead.fstype.startsWith('fuse')) throw toMemweaveError(err, 'fuse', `${path} is not reachable and is not a FUSE mount`)
      log.warn({ mountpoint: path, fstype: dead.fstype, source: dead.source }, 'clearing a dead FUSE mount left by a process that exited')
      await lazyUnmount(path, log)
      continue
    }
    if (!isDirectory) throw new MemweaveError('fuse', 'invalid_argument', `mountpoint ${path} is not a directory`)
    const live = await mountAt(path)
    if (live !== undefined) {
      throw new MemweaveError('fuse', 'busy', `${path} is already a mount point (${live.fstype} from ${live.source}); unmount it first or pick another directory`)
    }
    await checkUserMount(path)
    return path
  }
  throw new MemweaveError('fuse', 'busy', `${path} still holds dead mounts after clearing several`)
}
