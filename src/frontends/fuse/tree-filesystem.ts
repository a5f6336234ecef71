/**
 * The FUSE operations over a TreeClient. Every callback starts async work
 * and returns at once (both bindings run them on the event loop, so blocking
 * would stall every reader), answers exactly once, and bounds its own time:
 * a late answer is dropped and never touches a buffer libfuse reused.
 *
 *   getattr/readdir ─▶ AttrCache ─miss─▶ client.stat / client.list
 *   open ─▶ client.open ─▶ OpenFiles (fd ↦ handle) ◀─ release ─▶ client.close
 *   read ─▶ readRange (holes in memory read as zeros) ─▶ copy into the FUSE buffer
 *   (an image file's mem leaf with directReads: its map goes to the binding at open,
 *    which answers reads itself until the map is revoked: direct-reads.ts)
 *   write ─▶ client.write (control leaves run the written lines)
 *
 * Once the tree is gone (the daemon behind the client died, or the mount was
 * taken down) every operation answers ENOTCONN at once, as a dead FUSE
 * server's kernel connection does: a file opened before is not a bad file
 * descriptor (EBADF) just because its handle went with the daemon.
 */
import type { Logger } from 'pino'
import type { FileSpans, TreeClient } from '../../net/index.js'
import { AttrCache } from './attr-cache.js'
import type { CachedNode } from './attr-cache.js'
import type { FuseOperations, FuseStat, FuseStatfs } from './fuse-binding.js'
import { fuseFailure, isRoutine, localFailure } from './fuse-errno.js'
import type { FuseFailure } from './fuse-errno.js'
import { MAX_EXACT_OFFSET, branchStat, leafStat } from './fuse-stat.js'
import type { LeafMeta, StatContext } from './fuse-stat.js'
import { readRange } from './hole-read.js'
import { OpenFiles } from './open-files.js'
import { ReadAhead } from './read-ahead.js'
import { OpDeadlines } from './op-deadlines.js'
import { DirectFile } from './direct-reads.js'
import type { OpenFile } from './open-files.js'

export interface TreeFilesystemOptions extends StatContext {
  /** How long listings and leaf metadata are reused (memory leaves never are). */
  readonly attrCacheMs: number
  /** Unmapped pages of memory leaves read as zeros (else the read fails with EIO). */
  readonly zeroFillUnmapped: boolean
  /** Longest any one operation may take before it fails with ETIMEDOUT. */
  readonly opTimeoutMs: number
  /** Window of sequential read-ahead on memory leaves; 0 turns it off. */
  readonly readAheadBytes: number
  /** The binding answers reads of image-file leaves itself (libfuse 3): take their file maps at open. */
  readonly directReads?: boolean
  readonly log: Logger
}

/** An answer decided here rather than by the tree (EBADF, EROFS, EACCES …). */
class Refusal {
  constructor(readonly failure: FuseFailure) {}
}

/** A read-ahead window is used only this long after its bytes arrived. */
export const READ_AHEAD_MAX_AGE_MS = 50
/** Open memory files with read-ahead at once (each holds up to two windows). */
export const MAX_READ_AHEADS = 32

const O_ACCMODE = 3
const O_RDONLY = 0
const O_WRONLY = 1

/** A leaf the tree gave no metadata for: a readable file of unknown size. */
const UNKNOWN_LEAF: LeafMeta = { sizeBytes: undefined, readable: true, writable: false, rpc: false, content: 'binary' }

const STATFS: FuseStatfs = {
  bsize: 4096, frsize: 4096, blocks: 0, bfree: 0, bavail: 0, files: 0, ffree: 0, favail: 0, fsid: 0, flag: 0, namemax: 255,
}

/** '/os/new' → 'os/new'; '/' → ''. */
export function treePath(fusePath: string): string {
  return fusePath.replace(/^\/+/, '')
}

export class TreeFilesystem {
  readonly cache: AttrCache
  readonly files = new OpenFiles()
  /** Every operation's ETIMEDOUT deadline, swept by one interval (no timer per request). */
  private readonly deadlines: OpDeadlines
  private readonly log: Logger
  private readAheads = 0
  /** Why the tree can no longer be reached, once it cannot. */
  private gone: FuseFailure | undefined
  /** Waiting for the last open file to be released (see openFilesReleased). */
  private readonly releaseWaiters: (() => void)[] = []

  constructor(private readonly client: TreeClient, private readonly options: TreeFilesystemOptions) {
    this.cache = new AttrCache(options.attrCacheMs)
    this.deadlines = new OpDeadlines(options.opTimeoutMs)
    this.log = options.log
  }

  operations(): FuseOperations {
    return {
      init: (done) => done(0),
      statfs: (_path, done) => done(0, STATFS),
      getattr: (path, done) => this.serve('getattr', path, () => this.stat(treePath(path)), (stat) => done(0, stat), done),
      readdir: (path, done) => this.serve('readdir', path, () => this.readdir(treePath(path)), (names) => done(0, names), done),
      // The map's fd stays open until the open is answered (the binding duplicates it then).
      open: (path, flags, done) => this.serve('open', path, () => this.open(treePath(path), flags), (file) => {
        try { done(0, file.fd) } finally { file.direct?.fdTaken() }
      }, done,
        // Answered ETIMEDOUT already: nobody will release this file, so give its handle back now.
        (file) => { this.release(file.fd).catch((err: unknown) => this.log.debug({ err, path }, 'closing a handle opened too late failed')) }),
      // Once the tree is gone there is nothing to give back: the handle went with it.
      release: (path, fd, done) => {
        if (this.gone === undefined) this.serve('release', path, () => this.release(fd), () => done(0), done)
        else { this.released(fd); done(0) }
      },
      read: (path, fd, buffer, length, offset, done) => this.serve('read', path, () => this.read(fd, length, offset), (data) => {
        buffer.set(data.subarray(0, length))
        done(Math.min(data.length, length))
      }, done),
      // The bytes as the tree gave them: libfuse 3 writes them to the kernel from this memory.
      // Spans of an image file are answered from the file by the binding (no JS buffer at all).
      readData: (path, fd, length, offset, done) => this.serve('read', path, () => this.read(fd, length, offset, true),
        (data) => done(0, data instanceof Uint8Array && data.length > length ? data.subarray(0, length) : data), done,
        (data) => { if (!(data instanceof Uint8Array)) data.release() }),
      directReads: (fd) => this.files.get(fd)?.direct,
      write: (path, fd, buffer, length, offset, done) => {
        // The buffer belongs to libfuse and is reused after we answer; the tree may keep what it is given.
        const data = new Uint8Array(buffer.subarray(0, length))
        this.serve('write', path, () => this.write(fd, data, offset), (written) => done(written), done)
      },
      truncate: (path, _size, done) => this.serve('truncate', path, () => this.truncate(treePath(path)), () => done(0), done),
      ftruncate: (path, fd, _size, done) => this.serve('ftruncate', path, async () => this.truncateOpen(fd), () => done(0), done),
      // Times are fixed (mount time); accepting utimens lets O_TRUNC opens and `touch` succeed.
      utimens: (_path, _atime, _mtime, done) => done(0),
      create: (path, _mode, done) => done(localFailure('EPERM', 'permission', `cannot create ${path}: the tree has no user-created files`).errno),
    }
  }

  /**
   * The tree can no longer be reached (the client's connection closed, or the
   * mount is being taken down): from now on every operation answers ENOTCONN.
   */
  treeGone(why: string): void {
    this.gone ??= localFailure('ENOTCONN', 'disconnected', why)
    for (const file of this.files.list()) file.direct?.revoke()
  }

  /**
   * Closes every tree handle still open (at unmount); later operations answer
   * ENOTCONN. The files stay listed until the kernel releases them, so
   * openFilesReleased can tell when nobody holds one any more.
   */
  async closeAll(): Promise<void> {
    this.treeGone('the mount was taken down')
    this.deadlines.close()
    this.readAheads = 0
    for (const file of this.files.list()) {
      try {
        await this.client.close(file.handle)
      } catch (err) {
        this.log.debug({ err, path: file.path }, 'closing a handle left open at unmount failed')
      }
    }
  }

  /**
   * The kernel connection is gone: no file is open any more, whether or not
   * its release reached us (the kernel drops queued releases with the
   * connection when a lazily unmounted mount's last file closes, and an
   * aborted connection sends none). Their tree handles are closed as a
   * release would, unless the tree went first (they went with it).
   */
  connectionGone(): void {
    for (const file of this.files.list()) {
      if (this.gone !== undefined) { this.released(file.fd); continue }
      this.release(file.fd).catch((err: unknown) => this.log.debug({ err, path: file.path }, 'closing the handle of a file the ended connection dropped failed'))
    }
  }

  /** Files opened through the mount and not yet released by the kernel. */
  get openFiles(): number {
    return this.files.size
  }

  /** Resolves once every file opened through the mount has been released (at once if none is open). */
  openFilesReleased(): Promise<void> {
    if (this.files.size === 0) return Promise.resolve()
    return new Promise((resolve) => { this.releaseWaiters.push(resolve) })
  }

  private released(fd: number): OpenFile | undefined {
    const file = this.files.remove(fd)
    file?.direct?.revoke()
    if (this.files.size === 0) for (const resolve of this.releaseWaiters.splice(0)) resolve()
    return file
  }

  private serve<T>(op: string, path: string, work: () => Promise<T | Refusal>, reply: (value: T) => void, fail: (errno: number) => void,
    late?: (value: T) => void): void {
    if (this.gone !== undefined) {
      this.logFailure(op, path, this.gone)
      fail(this.gone.errno)
      return
    }
    let settled = false
    const timer = this.deadlines.add(() => {
      if (settled) return
      settled = true
      const failure = localFailure('ETIMEDOUT', 'timeout', `${op} ${path} took longer than ${this.options.opTimeoutMs} ms`)
      this.log.warn({ op, path, timeoutMs: this.options.opTimeoutMs }, failure.error.message)
      fail(failure.errno)
    })
    const answer = (failure: FuseFailure): void => {
      this.deadlines.done(timer)
      this.logFailure(op, path, failure)
      if (settled) return
      settled = true
      fail(failure.errno)
    }
    work().then((value) => {
      if (value instanceof Refusal) { answer(this.gone ?? value.failure); return }
      this.deadlines.done(timer)
      if (settled) { late?.(value); return }
      try {
        reply(value)
        settled = true
      } catch (err) {
        // A reply that cannot be delivered (a buffer libfuse took back) still gets an answer: an error.
        answer(fuseFailure(err, `${op} ${path}: answering`))
      }
    }, (err: unknown) => answer(this.gone ?? fuseFailure(err, `${op} ${path}`)))
  }

  private logFailure(op: string, path: string, failure: FuseFailure): void {
    const fields = { op, path, errno: failure.name, kind: failure.error.kind }
    if (isRoutine(failure) || (failure.error.kind !== 'internal' && failure.error.kind !== 'io')) this.log.debug(fields, failure.error.message)
    else this.log.warn({ ...fields, err: failure.error }, failure.error.message)
  }

  private async lookup(path: string): Promise<CachedNode> {
    if (path === '') return { type: 'branch' }
    const cached = this.cache.get(path)
    if (cached !== undefined) return cached
    const stat = await this.client.stat(path)
    const node: CachedNode = { type: stat.type, meta: stat.meta }
    this.cache.put(path, node)
    return node
  }

  private async stat(path: string): Promise<FuseStat> {
    const node = await this.lookup(path)
    if (node.type === 'branch') return branchStat(this.options)
    return leafStat(node.meta ?? UNKNOWN_LEAF, this.options)
  }

  private async readdir(path: string): Promise<string[]> {
    const entries = await this.client.list(path)
    this.cache.putListing(path, entries)
    return ['.', '..', ...entries.map((e) => e.name)]
  }

  private async open(path: string, flags: number): Promise<OpenFile | Refusal> {
    const access = flags & O_ACCMODE
    const wantsWrite = access !== O_RDONLY
    if (wantsWrite && this.options.readOnly) return refuse('EROFS', 'permission', `${path}: the mount is read-only`)
    const opened = await this.client.open(path)
    const { meta } = opened
    const denied = (wantsWrite && !meta.writable) || (access !== O_WRONLY && !meta.readable && !meta.rpc)
    if (denied) {
      await this.client.close(opened.handle)
      return refuse('EACCES', 'permission', `${path} cannot be opened for ${wantsWrite ? 'writing' : 'reading'}`)
    }
    const sizeBytes = opened.sizeBytes
    const direct = meta.content === 'mem' && sizeBytes !== undefined ? await this.directFile(path, opened.handle, sizeBytes) : undefined
    if (direct !== undefined) return this.files.add({ path, handle: opened.handle, meta, sizeBytes, direct })
    const withReadAhead = meta.content === 'mem' && sizeBytes !== undefined && this.options.readAheadBytes > 0 && this.readAheads < MAX_READ_AHEADS
    if (!withReadAhead) return this.files.add({ path, handle: opened.handle, meta, sizeBytes })
    this.readAheads++
    const readAhead = new ReadAhead(this.client, opened.handle, {
      windowBytes: this.options.readAheadBytes, maxAgeMs: READ_AHEAD_MAX_AGE_MS, zeroFillUnmapped: this.options.zeroFillUnmapped, sizeBytes,
    })
    return this.files.add({ path, handle: opened.handle, meta, sizeBytes, readAhead })
  }

  /** The leaf's file map for the binding, when it answers reads itself and the leaf is an image file's (else reads come here). */
  private async directFile(path: string, handle: number, sizeBytes: bigint): Promise<DirectFile | undefined> {
    if (this.options.directReads !== true || this.client.fileMap === undefined) return undefined
    try {
      const map = await this.client.fileMap(handle)
      return map === undefined ? undefined : new DirectFile(map, sizeBytes)
    } catch (err) {
      // Reads then take the usual path, which says what is wrong.
      this.log.debug({ err, path }, 'no file map for direct reads')
      return undefined
    }
  }

  private async release(fd: number): Promise<void> {
    const file = this.released(fd)
    if (file === undefined) return
    if (file.readAhead !== undefined) this.readAheads--
    await this.client.close(file.handle)
  }

  private async read(fd: number, length: number, offset: number): Promise<Uint8Array | Refusal>
  private async read(fd: number, length: number, offset: number, spans: true): Promise<Uint8Array | FileSpans | Refusal>
  private async read(fd: number, length: number, offset: number, spans = false): Promise<Uint8Array | FileSpans | Refusal> {
    const file = this.files.get(fd)
    if (file === undefined) return refuse('EBADF', 'not_found', `no open file ${fd}`)
    if (offset > MAX_EXACT_OFFSET) return refuse('EOVERFLOW', 'out_of_bounds', `offset ${offset} is past 2^53, where FUSE offsets stop being exact here`)
    const addr = BigInt(offset)
    let wanted = length
    if (file.meta.content === 'mem' && file.sizeBytes !== undefined) {
      if (addr >= file.sizeBytes) return new Uint8Array(0)
      if (addr + BigInt(length) > file.sizeBytes) wanted = Number(file.sizeBytes - addr)
    }
    if (spans && file.meta.content === 'mem' && wanted > 0 && this.client.fileSpans !== undefined) {
      const found = await this.client.fileSpans(file.handle, addr, wanted)
      if (found !== undefined) return found
    }
    if (file.readAhead !== undefined) return file.readAhead.read(addr, wanted)
    return readRange(this.client, file.handle, addr, wanted, this.options.zeroFillUnmapped && file.meta.content === 'mem')
  }

  private async write(fd: number, data: Uint8Array, offset: number): Promise<number | Refusal> {
    const file = this.files.get(fd)
    if (file === undefined) return refuse('EBADF', 'not_found', `no open file ${fd}`)
    if (offset > MAX_EXACT_OFFSET) return refuse('EOVERFLOW', 'out_of_bounds', `offset ${offset} is past 2^53, where FUSE offsets stop being exact here`)
    const [result] = await this.client.write(file.handle, [{ addr: BigInt(offset), data }])
    if (result === undefined) return refuse('EIO', 'internal', `write to ${file.path} returned no result`)
    if (!result.ok) throw result.error
    if (file.meta.content === 'control') this.cache.invalidate('')
    return data.length
  }

  /** O_TRUNC and truncate on a control leaf do nothing (each write is a command); other leaves cannot shrink. */
  private async truncate(path: string): Promise<void | Refusal> {
    if (this.options.readOnly) return refuse('EROFS', 'permission', `${path}: the mount is read-only`)
    const node = await this.lookup(path)
    if (node.meta?.content === 'control') return undefined
    return refuse('EPERM', 'unsupported', `${path} cannot be truncated (write memory with dd conv=notrunc)`)
  }

  private truncateOpen(fd: number): void | Refusal {
    const file = this.files.get(fd)
    if (file === undefined) return refuse('EBADF', 'not_found', `no open file ${fd}`)
    if (file.meta.content === 'control') return undefined
    return refuse('EPERM', 'unsupported', `${file.path} cannot be truncated (write memory with dd conv=notrunc)`)
  }
}

function refuse(name: string, kind: FuseFailure['error']['kind'], message: string): Refusal {
  return new Refusal(localFailure(name, kind, message))
}
