/**
 * Notices when an open image is replaced or changed under us. Identity
 * (dev, inode, size, mtime) is recorded at open; `check()` compares the
 * path's current stat, reusing a result for a short time so small reads stay
 * cheap, and an fs.watch makes changes show up without waiting for a read.
 * In volatile mode (a VM's RAM file in /dev/shm) content changes are the
 * point, so only deletion or replacement of the inode counts.
 */
import { fstat, stat, watch } from 'node:fs'
import type { BigIntStats, FSWatcher } from 'node:fs'
import type { Logger } from 'pino'

export interface FileIdentity {
  readonly dev: bigint
  readonly ino: bigint
  readonly sizeBytes: bigint
  readonly mtimeNs: bigint
}

export interface FileWatchOptions {
  readonly path: string
  readonly fd: number
  readonly identity: FileIdentity
  readonly volatile: boolean
  readonly log: Logger
  /** Called once, when the file is found changed. */
  readonly onStale: (reason: string) => void
  /** How long a stat result is reused. */
  readonly maxAgeMs?: number
}

export const DEFAULT_CHECK_AGE_MS = 100

export function identityOf(stats: BigIntStats): FileIdentity {
  return { dev: stats.dev, ino: stats.ino, sizeBytes: stats.size, mtimeNs: stats.mtimeNs }
}

function statPath(path: string): Promise<BigIntStats> {
  return new Promise((resolve, reject) => stat(path, { bigint: true }, (err, stats) => (err !== null ? reject(err) : resolve(stats))))
}

export function fstatFd(fd: number): Promise<BigIntStats> {
  return new Promise((resolve, reject) => fstat(fd, { bigint: true }, (err, stats) => (err !== null ? reject(err) : resolve(stats))))
}

export class FileWatch {
  private identity: FileIdentity
  private staleReason: string | undefined
  private checkedAt = Number.NEGATIVE_INFINITY
  private pending: Promise<string | undefined> | undefined
  private watcher: FSWatcher | undefined
  /** Our own writes in flight, and a count of their starts and ends: size and mtime may move then. */
  private ownWrites = 0
  private writeEpoch = 0
  private readonly maxAgeMs: number

  constructor(private readonly options: FileWatchOptions) {
    this.identity = options.identity
    this.maxAgeMs = options.maxAgeMs ?? DEFAULT_CHECK_AGE_MS
    try {
      this.watcher = watch(options.path, { persistent: false }, () => { this.poke() })
      this.watcher.on('error', (err) => {
        options.log.warn({ err, path: options.path }, 'file watch failed; staleness is still checked on use')
        this.stopWatching()
      })
    } catch (err) {
      // Some filesystems cannot be watched; the stat check on use still covers them.
      options.log.warn({ err, path: options.path }, 'cannot watch file; staleness is checked on use only')
    }
  }

  /** Undefined while the file is unchanged, else why it is stale (sticky). */
  check(): Promise<string | undefined> | string | undefined {
    if (this.staleReason !== undefined) return this.staleReason
    if (performance.now() - this.checkedAt < this.maxAgeMs) return undefined
    return this.checkNow()
  }

  /** Forgets the cached result and checks again (a watch event, a short read). */
  poke(): void {
    this.checkedAt = Number.NEGATIVE_INFINITY
    void this.checkNow()
  }

  private checkNow(): Promise<string | undefined> {
    this.pending ??= this.compare().finally(() => { this.pending = undefined })
    return this.pending
  }

  private async compare(): Promise<string | undefined> {
    const started = performance.now()
    const epoch = this.writeEpoch
    let reason: string | undefined
    try {
      const now = await statPath(this.options.path)
      reason = this.differs(now, this.ownWrites > 0 || epoch !== this.writeEpoch)
    } catch (err) {
      const code = typeof err === 'object' && err !== null && 'code' in err ? err.code : undefined
      if (code === 'ENOENT' || code === 'ENOTDIR') reason = `was deleted from disk: ${this.options.path}`
      else this.options.log.warn({ err, path: this.options.path }, 'cannot stat file to check for changes')
    }
    if (this.staleReason === undefined) this.checkedAt = started
    if (reason !== undefined && this.staleReason === undefined) {
      this.staleReason = reason
      this.stopWatching()
      this.options.onStale(reason)
    }
    return this.staleReason
  }

  private differs(now: BigIntStats, writing: boolean): string | undefined {
    const was = this.identity
    if (now.dev !== was.dev || now.ino !== was.ino) return `was replaced on disk (inode changed): ${this.options.path}`
    if (this.options.volatile || writing) return undefined
    if (now.size !== was.sizeBytes) return `was modified on disk (size ${was.sizeBytes} -> ${now.size} bytes): ${this.options.path}`
    if (now.mtimeNs !== was.mtimeNs) return `was modified on disk (mtime changed): ${this.options.path}`
    return undefined
  }

  /** Brackets our own writes so their size/mtime changes are not taken as foreign ones. */
  async ownWrite<T>(work: () => Promise<T>): Promise<T> {
    this.ownWrites++
    this.writeEpoch++
    try {
      return await work()
    } finally {
      try {
        this.identity = identityOf(await fstatFd(this.options.fd))
      } catch (err) {
        this.options.log.warn({ err, path: this.options.path }, 'cannot fstat after write')
      }
      this.ownWrites--
      this.writeEpoch++
    }
  }

  close(): void {
    this.stopWatching()
  }

  private stopWatching(): void {
    this.watcher?.close()
    this.watcher = undefined
  }
}
