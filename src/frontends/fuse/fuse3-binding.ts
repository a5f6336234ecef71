/**
 * FuseOperations served through libfuse 3's low-level API (the addon of
 * native/fuse3, typed in src/addons/fuse3-addon.ts). The kernel names inodes; the
 * InodeTable turns them back into the paths the operations take. Each batch
 * from the native session thread is dispatched in one event-loop turn; every
 * request is answered exactly once (a second answer is dropped), and a
 * handler that throws is answered EIO, never a crash.
 *
 * Mount options of the high-level API (fuse-native's) that the low-level one
 * does not parse are applied here: direct_io (per open), attr_timeout,
 * entry_timeout and negative_timeout (per reply); big_writes is libfuse 3's
 * default. Requests are up to 1 MiB (max_pages from libfuse 3's default
 * max_write; the settings' maxReadBytes is not passed on).
 *
 * Files whose operations give a direct-read map at open (an image file's
 * mem leaf, direct-reads.ts) have their reads answered by the addon itself;
 * a read that still comes here and is answered from file spans renews the
 * addon's lease (the tree checked the file for staleness on the way).
 */
import { execFile } from 'node:child_process'
import { constants } from 'node:os'
import { OP, RECORD, fuse3Addon, fuse3AddonAbsence } from '../../addons/index.js'
import type { Fuse3Addon, Fuse3Handle } from '../../addons/index.js'
import { MemweaveError } from '../../errors/index.js'
import type { FileSpans } from '../../net/index.js'
import type { DirectReadMap } from './direct-reads.js'
import type { FuseImplementation, FuseMount, FuseMountSettings, FuseOperations, FuseStat } from './fuse-binding.js'
import { InodeTable, UNKNOWN_INODE, childPath } from './inode-table.js'
import { mountAt } from './mountpoint.js'

const E = constants.errno
/** setattr's to_set bits (fuse_lowlevel.h). */
const SET_ATTR_MODE = 1 << 0
const SET_ATTR_UID = 1 << 1
const SET_ATTR_GID = 1 << 2
const SET_ATTR_SIZE = 1 << 3
/** The options fuse_session_new takes; the rest of the high-level set is applied here. */
const SESSION_OPTIONS = new Set(['ro', 'rw', 'default_permissions', 'subtype', 'allow_other', 'fsname'])

interface ReplyPolicy {
  readonly directIo: boolean
  readonly attrTimeoutS: number
  readonly entryTimeoutS: number
  readonly negativeTimeoutS: number
}

function seconds(option: string, value: string | undefined): number {
  const parsed = Number(value)
  if (value === undefined || !Number.isFinite(parsed) || parsed < 0) throw new MemweaveError('fuse', 'invalid_argument', `mount option ${option} needs seconds`)
  return parsed
}

/** Splits fuse-native style options into fuse_session_new's and the ones applied per reply. */
export function splitOptions(settings: FuseMountSettings): { args: string[]; policy: ReplyPolicy } {
  // No max_read option: libfuse 3 then leaves reads unlimited but for max_pages (1 MiB, from its max_write),
  // and a max_read option would also have to be repeated in init().
  const session = [`fsname=${settings.fsname}`, ...(settings.allowOther ? ['allow_other'] : [])]
  const policy = { directIo: false, attrTimeoutS: 1, entryTimeoutS: 1, negativeTimeoutS: 0 }
  for (const option of settings.extraOptions) {
    const [name = '', value] = option.split('=', 2)
    if (name === 'direct_io') policy.directIo = true
    else if (name === 'big_writes') continue
    else if (name === 'attr_timeout') policy.attrTimeoutS = seconds(name, value)
    else if (name === 'entry_timeout') policy.entryTimeoutS = seconds(name, value)
    else if (name === 'negative_timeout') policy.negativeTimeoutS = seconds(name, value)
    else if (SESSION_OPTIONS.has(name)) session.push(option)
    else throw new MemweaveError('fuse', 'invalid_argument', `mount option '${option}' is not supported by the libfuse3 binding`)
  }
  return { args: ['-o', session.join(','), ...(settings.debug ? ['-d'] : [])], policy }
}

/** [ino, mode, nlink, uid, gid, size, blksize, blocks, atimeMs, mtimeMs, ctimeMs] for the addon. */
function statRecord(inode: number, stat: FuseStat): Float64Array {
  return Float64Array.of(inode, stat.mode, stat.nlink, stat.uid, stat.gid, stat.size, stat.blksize, stat.blocks,
    stat.atime.getTime(), stat.mtime.getTime(), stat.ctime.getTime())
}

const NEGATIVE_ENTRY = new Float64Array(11)

/** One request of a batch, answered at most once. */
class Request {
  private answered = false
  constructor(private readonly addon: Fuse3Addon, private readonly handle: Fuse3Handle, readonly slot: number) {}

  /** Runs one reply unless the request was answered already (false then); a reply that throws becomes EIO. */
  answer(reply: (addon: Fuse3Addon, handle: Fuse3Handle, slot: number) => void): boolean {
    if (this.answered) return false
    this.answered = true
    try {
      reply(this.addon, this.handle, this.slot)
    } catch {
      try {
        this.addon.replyErr(this.handle, this.slot, E.EIO)
      } catch {
        // The slot was answered after all: nothing is left to tell the kernel.
      }
    }
    return true
  }

  error(errno: number): void {
    this.answer((a, h, s) => a.replyErr(h, s, errno))
  }

  /** From a FUSE callback's result: a negative errno fails the request, else `then` answers it. */
  result(result: number, then: () => void): void {
    if (result < 0) { this.error(-result); return }
    try {
      then()
    } catch {
      this.error(E.EIO)
    }
  }
}

export class Fuse3Binding implements FuseMount {
  readonly implementation: FuseImplementation = 'libfuse3'
  private readonly addon: Fuse3Addon
  private readonly args: string[]
  private readonly policy: ReplyPolicy
  private readonly inodes = new InodeTable()
  /** Open directories: their listing (taken at offset 0), by fh. */
  private readonly dirs = new Map<number, { names: string[]; inodes: Float64Array } | undefined>()
  private nextDir = 1
  private handle: Fuse3Handle | undefined
  private unmounted = false
  private ended = false
  private readonly endWaiters: (() => void)[] = []
  /** Files whose reads the addon answers: fh → the map registered for it. */
  private readonly direct = new Map<number, DirectReadMap>()

  constructor(readonly mountpoint: string, private readonly ops: FuseOperations, settings: FuseMountSettings) {
    const addon = fuse3Addon()
    if (addon === undefined) throw new MemweaveError('fuse', 'unsupported', `the libfuse3 addon cannot be used: ${fuse3AddonAbsence() ?? 'absent'}`)
    this.addon = addon
    const { args, policy } = splitOptions(settings)
    this.args = args
    this.policy = policy
  }

  mount(): Promise<void> {
    if (this.handle !== undefined) return Promise.resolve()
    try {
      this.handle = this.addon.mount(this.mountpoint, this.args, (records, extras) => this.onBatch(records, extras))
    } catch (err) {
      return Promise.reject(new MemweaveError('fuse', 'io', `cannot mount on ${this.mountpoint}: ${err instanceof Error ? err.message : String(err)}`, { cause: err }))
    }
    return Promise.resolve()
  }

  /** Lazy unmount; the session goes on answering files opened before until the kernel releases them. */
  async unmount(): Promise<void> {
    const handle = this.handle
    if (handle === undefined || this.unmounted) return
    const failed = process.getuid?.() === 0 ? this.addon.unmount(handle) : await fusermount3Unmount(this.mountpoint)
    if (failed !== 0) {
      const still = await mountAt(this.mountpoint)
      if (still !== undefined && still.fstype.startsWith('fuse')) {
        throw new MemweaveError('fuse', 'busy', `cannot unmount ${this.mountpoint} (errno ${failed})`)
      }
    }
    this.unmounted = true
    if (!this.ended) this.addon.unref(handle)
  }

  /** Resolves when the kernel connection is gone (unmounted and every file released). */
  sessionEnded(): Promise<void> {
    if (this.ended) return Promise.resolve()
    return new Promise((resolve) => { this.endWaiters.push(resolve) })
  }

  /** Inodes the kernel holds (the root included): for tests of forget. */
  get inodesHeld(): number {
    return this.inodes.size
  }

  private onBatch(records: Float64Array, extras: readonly (string | Buffer | undefined)[] | undefined): void {
    const handle = this.handle
    if (handle === undefined) return
    for (let at = 0; at < records.length; at += RECORD) {
      const slot = records[at] ?? -1
      const op = records[at + 1] ?? OP.end
      if (op === OP.end) { this.end(handle); continue }
      if (op === OP.forget) { this.inodes.forget(records[at + 2] ?? 0, records[at + 5] ?? 0); continue }
      const request = new Request(this.addon, handle, slot)
      try {
        this.dispatch(request, op, records, at, extras?.[at / RECORD])
      } catch {
        // A handler that throws before answering fails its request, not the mount.
        request.error(E.EIO)
      }
    }
  }

  private end(handle: Fuse3Handle): void {
    this.ended = true
    this.direct.clear() // destroy() frees the addon's maps
    this.addon.destroy(handle)
    for (const resolve of this.endWaiters.splice(0)) resolve()
  }

  private dispatch(request: Request, op: number, r: Float64Array, at: number, extra: string | Buffer | undefined): void {
    const inode = r[at + 2] ?? 0
    const fh = r[at + 3] ?? 0
    const offset = r[at + 4] ?? 0
    const size = r[at + 5] ?? 0
    const flags = r[at + 6] ?? 0
    const hasFh = r[at + 7] === 1
    const path = this.inodes.path(inode)
    if (path === undefined) { request.error(E.ESTALE); return }
    const ops = this.ops
    switch (op) {
      case OP.lookup: {
        if (typeof extra !== 'string') { request.error(E.EIO); return }
        this.lookup(request, childPath(path, extra))
        return
      }
      case OP.getattr:
        ops.getattr(path, (result, stat) => request.result(result, () => {
          if (stat === undefined) throw new Error('getattr answered no stat')
          request.answer((a, h, s) => a.replyAttr(h, s, statRecord(inode, stat), this.policy.attrTimeoutS))
        }))
        return
      case OP.setattr:
        this.setattr(request, path, inode, flags, offset, hasFh ? fh : undefined)
        return
      case OP.open:
        ops.open(path, flags, (result, fd) => request.result(result, () => {
          const fh = fd ?? 0
          this.registerDirect(fh)
          request.answer((a, h, s) => a.replyOpen(h, s, fh, this.policy.directIo))
        }))
        return
      case OP.read:
        this.read(request, path, fh, size, offset)
        return
      case OP.write: {
        if (!(extra instanceof Buffer)) { request.error(E.EIO); return }
        ops.write(path, fh, extra, size, offset, (result) => request.result(result, () => {
          request.answer((a, h, s) => a.replyWrite(h, s, result))
        }))
        return
      }
      case OP.release:
        ops.release(path, fh, (result) => request.result(result, () => request.error(0)))
        return
      case OP.opendir: {
        const dir = this.nextDir++
        this.dirs.set(dir, undefined)
        request.answer((a, h, s) => a.replyOpen(h, s, dir, false))
        return
      }
      case OP.readdir:
        this.readdir(request, path, inode, fh, offset, size)
        return
      case OP.releasedir:
        this.dirs.delete(fh)
        request.error(0)
        return
      case OP.statfs:
        ops.statfs(path, (result, s) => request.result(result, () => {
          if (s === undefined) throw new Error('statfs answered nothing')
          const record = Float64Array.of(s.bsize, s.frsize, s.blocks, s.bfree, s.bavail, s.files, s.ffree, s.favail, s.fsid, s.flag, s.namemax)
          request.answer((a, h, slot) => a.replyStatfs(h, slot, record))
        }))
        return
      case OP.create:
      case OP.mknod: {
        if (typeof extra !== 'string') { request.error(E.EIO); return }
        // The tree has no user-created files: only a refusal can come back (a success would need an inode to give).
        ops.create(childPath(path, extra), flags, (result) => request.result(result, () => request.error(E.ENOSYS)))
        return
      }
      default:
        request.error(E.ENOSYS)
    }
  }

  private lookup(request: Request, path: string): void {
    this.ops.getattr(path, (result, stat) => {
      if (result < 0 && this.policy.negativeTimeoutS > 0 && -result === E.ENOENT) {
        request.answer((a, h, s) => a.replyEntry(h, s, NEGATIVE_ENTRY, this.policy.negativeTimeoutS, 0))
        return
      }
      request.result(result, () => {
        if (stat === undefined) throw new Error('getattr answered no stat')
        const inode = this.inodes.ref(path)
        const record = statRecord(inode, stat)
        if (!request.answer((a, h, s) => a.replyEntry(h, s, record, this.policy.entryTimeoutS, this.policy.attrTimeoutS))) this.inodes.forget(inode, 1)
      })
    })
  }

  private setattr(request: Request, path: string, inode: number, toSet: number, size: number, fh: number | undefined): void {
    if ((toSet & (SET_ATTR_MODE | SET_ATTR_UID | SET_ATTR_GID)) !== 0) { request.error(E.ENOSYS); return }
    const reply = (): void => this.ops.getattr(path, (result, stat) => request.result(result, () => {
      if (stat === undefined) throw new Error('getattr answered no stat')
      request.answer((a, h, s) => a.replyAttr(h, s, statRecord(inode, stat), this.policy.attrTimeoutS))
    }))
    if ((toSet & SET_ATTR_SIZE) === 0) { reply(); return } // times: fixed at mount time (as utimens)
    const done = (result: number): void => request.result(result, reply)
    if (fh !== undefined) this.ops.ftruncate(path, fh, size, done)
    else this.ops.truncate(path, size, done)
  }

  /** Hands the file's map to the addon (reads of fh are answered there from now on) until the operations revoke it. */
  private registerDirect(fh: number): void {
    const map = this.ops.directReads?.(fh)
    const handle = this.handle
    if (map === undefined || handle === undefined || this.ended) return
    try {
      this.addon.directReads(handle, fh, map.fd, map.sizeBytes, map.extents, map.leaseMs)
    } catch {
      return // (the fd could not be duplicated: out of descriptors) its reads come here, as any file's
    }
    this.direct.set(fh, map)
    map.onRevoke(() => {
      // Only this map's registration: fh may be another file's by now.
      if (this.direct.get(fh) !== map) return
      this.direct.delete(fh)
      if (!this.ended) this.addon.dropDirect(handle, fh)
    })
  }

  /** Reads the addon answered itself, and files it answers reads of (for tests). */
  get directReads(): { readonly reads: number; readonly files: number } {
    const handle = this.handle
    if (handle === undefined || this.ended) return { reads: 0, files: 0 }
    const [reads, files] = this.addon.directStats(handle)
    return { reads, files }
  }

  private read(request: Request, path: string, fh: number, size: number, offset: number): void {
    if (this.ops.readData !== undefined) {
      this.ops.readData(path, fh, size, offset, (result, data) => {
        if (data !== undefined && !(data instanceof Uint8Array)) {
          this.replySpans(request, result, data, size)
          // The tree checked the file on the way here: the addon may answer its reads again for a while.
          const map = this.direct.get(fh)
          const handle = this.handle
          if (result >= 0 && map !== undefined && handle !== undefined && !this.ended) this.addon.leaseDirect(handle, fh, map.leaseMs)
          return
        }
        request.result(result, () => {
          const bytes = data ?? new Uint8Array(0)
          request.answer((a, h, s) => a.replyBuf(h, s, bytes, Math.min(bytes.length, size)))
        })
      })
      return
    }
    const buffer = Buffer.allocUnsafe(size)
    this.ops.read(path, fh, buffer, size, offset, (result) => request.result(result, () => {
      request.answer((a, h, s) => a.replyBuf(h, s, buffer, Math.min(result, size)))
    }))
  }

  /** Answers from file spans (never more than size bytes), then gives the spans back, whatever happened. */
  private replySpans(request: Request, result: number, spans: FileSpans, size: number): void {
    try {
      request.result(result, () => {
        const record = new Float64Array(spans.spans.length * 3)
        let left = size
        spans.spans.forEach((span, i) => {
          const length = Math.min(span.length, left)
          left -= length
          record.set([span.fd, span.pos, length], i * 3)
        })
        request.answer((a, h, s) => a.replySpans(h, s, record))
      })
    } finally {
      spans.release()
    }
  }

  private readdir(request: Request, path: string, inode: number, dir: number, offset: number, size: number): void {
    const listed = this.dirs.get(dir)
    if (offset > 0 && listed !== undefined) {
      request.answer((a, h, s) => a.replyDir(h, s, listed.names, listed.inodes, offset, size))
      return
    }
    this.ops.readdir(path, (result, names) => request.result(result, () => {
      const all = names ?? []
      const inodes = Float64Array.from(all, (name) => name === '.' ? inode : name === '..' ? UNKNOWN_INODE : this.inodes.peek(childPath(path, name)) ?? UNKNOWN_INODE)
      if (this.dirs.has(dir)) this.dirs.set(dir, { names: all, inodes })
      request.answer((a, h, s) => a.replyDir(h, s, all, inodes, offset, size))
    }))
  }
}

/** `fusermount3 -u -z`: 0 when it worked, else 1 (the caller checks whether the mount is still there). */
function fusermount3Unmount(mountpoint: string): Promise<number> {
  return new Promise((resolve) => {
    execFile('fusermount3', ['-u', '-z', mountpoint], (err) => resolve(err === null ? 0 : 1))
  })
}
