/**
 * A host process's virtual memory through /proc/PID/mem: positional reads
 * and writes on one pooled file handle, pieces of a batch run concurrently.
 * The kernel answers EIO (or a short read) where nothing is mapped; that
 * piece fails as 'unmapped' and its neighbours are unaffected. When a
 * piece fails, the process is checked once per batch, so reads of an
 * exited process fail as 'stale', not as holes.
 */
import { open } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { MemweaveError, toMemweaveError } from '../../errors/index.js'
import { hex } from '../../mem/index.js'
import type { MemMetadata, PieceResult, ReadPiece, VirtAddr, VirtualMemory, WritePiece, WriteResult } from '../../mem/index.js'
import type { FdPool } from './fd-pool.js'
import { isGone, mapLimited, preadAt, pwriteAt } from './proc-files.js'

/** pread takes a signed 64-bit offset. */
const MAX_OFFSET = (1n << 63n) - 1n
/** fs.write takes a number position. */
const MAX_WRITE_OFFSET = BigInt(Number.MAX_SAFE_INTEGER)
const CONCURRENCY = 16

export interface ProcMemOptions {
  readonly pid: number
  /** Pool key prefix naming this process instance (pid and start time). */
  readonly key: string
  readonly pool: FdPool
  readonly writable: boolean
  readonly addressSpaceBytes: bigint
  /** Why the process is no longer the one we opened, or undefined. */
  readonly staleReason: () => Promise<string | undefined>
  readonly description: string
}

export class ProcMem implements VirtualMemory {
  constructor(private readonly options: ProcMemOptions) {}

  metadata(): MemMetadata {
    return { maxAddress: this.options.addressSpaceBytes, idealBatchSize: 256, readonly: !this.options.writable, volatile: true }
  }

  async read(pieces: readonly ReadPiece<VirtAddr>[]): Promise<PieceResult[]> {
    if (pieces.length === 0) return []
    try {
      return await this.withHandle('r', async (handle) => {
        const results = await mapLimited(pieces, CONCURRENCY, (piece) => this.readPiece(handle, piece))
        return this.markStale(results)
      })
    } catch (err) {
      if (err instanceof MemweaveError && err.kind === 'unmapped') return pieces.map(() => ({ ok: false, error: err }))
      throw err
    }
  }

  async write(pieces: readonly WritePiece<VirtAddr>[]): Promise<WriteResult[]> {
    if (pieces.length === 0) return []
    if (!this.options.writable) {
      const error = new MemweaveError('os', 'permission', `${this.options.description}: memory is read-only (writes are disabled)`)
      return pieces.map(() => ({ ok: false, error }))
    }
    try {
      return await this.withHandle('r+', async (handle) => {
        const results = await mapLimited(pieces, CONCURRENCY, (piece) => this.writePiece(handle, piece))
        return this.markStale(results)
      })
    } catch (err) {
      if (err instanceof MemweaveError && err.kind === 'unmapped') return pieces.map(() => ({ ok: false, error: err }))
      throw err
    }
  }

  private withHandle<T>(mode: 'r' | 'r+', fn: (handle: FileHandle) => Promise<T>): Promise<T> {
    const path = `/proc/${this.options.pid}/mem`
    return this.options.pool.use(`${this.options.key}:${mode}`, async () => {
      const handle = await open(path, mode).catch(async (err: unknown) => {
        // ESRCH from a live process means it has no user address space (a kernel thread).
        if (isGone(err) && (await this.options.staleReason()) === undefined) {
          throw new MemweaveError('os', 'unmapped', `${this.options.description} has no user address space (kernel thread)`, { cause: err })
        }
        throw toMemweaveError(err, 'os', `${this.options.description}: cannot open ${path}`)
      })
      // The pid may have been reused before the open: check it still names our process.
      const reason = await this.options.staleReason()
      if (reason !== undefined) {
        await handle.close()
        throw new MemweaveError('os', 'stale', `${this.options.description} ${reason}`)
      }
      return handle
    }, fn)
  }

  private async readPiece(handle: FileHandle, piece: ReadPiece<VirtAddr>): Promise<PieceResult> {
    const refused = this.refuse(piece.addr, piece.length)
    if (refused !== undefined) return { ok: false, error: refused }
    const buffer = Buffer.allocUnsafe(piece.length)
    let done = 0
    while (done < piece.length) {
      const at = piece.addr + BigInt(done)
      try {
        const bytesRead = await preadAt(handle.fd, buffer, done, piece.length - done, at)
        if (bytesRead === 0) return { ok: false, error: this.unmapped(at, piece) }
        done += bytesRead
      } catch (err) {
        return { ok: false, error: this.failure(err, at, piece.length, 'read') }
      }
    }
    return { ok: true, data: buffer }
  }

  private async writePiece(handle: FileHandle, piece: WritePiece<VirtAddr>): Promise<WriteResult> {
    const refused = this.refuse(piece.addr, piece.data.length, MAX_WRITE_OFFSET)
    if (refused !== undefined) return { ok: false, error: refused }
    let done = 0
    while (done < piece.data.length) {
      const at = piece.addr + BigInt(done)
      try {
        const bytesWritten = await pwriteAt(handle.fd, piece.data, done, piece.data.length - done, at)
        if (bytesWritten === 0) return { ok: false, error: this.unmapped(at, { addr: piece.addr, length: piece.data.length }) }
        done += bytesWritten
      } catch (err) {
        return { ok: false, error: this.failure(err, at, piece.data.length, 'write') }
      }
    }
    return { ok: true }
  }

  private refuse(addr: bigint, length: number, limit = MAX_OFFSET): MemweaveError | undefined {
    if (addr < 0n || addr + BigInt(length) > limit) {
      return new MemweaveError('os', 'out_of_bounds', `${this.options.description}: ${length} bytes at ${hex(addr)} are outside the readable address range`)
    }
    return undefined
  }

  private unmapped(at: bigint, piece: ReadPiece): MemweaveError {
    const where = at === piece.addr ? hex(at) : `${hex(at)} (inside the piece of ${piece.length} bytes at ${hex(piece.addr)})`
    return new MemweaveError('os', 'unmapped', `${this.options.description}: address ${where} is not mapped`)
  }

  private failure(err: unknown, at: bigint, length: number, what: string): MemweaveError {
    const code = typeof err === 'object' && err !== null && 'code' in err ? err.code : undefined
    if (code === 'EIO' || code === 'EFAULT') {
      const error = this.unmapped(at, { addr: at, length })
      return new MemweaveError(error.origin, error.kind, error.message, { cause: err })
    }
    return toMemweaveError(err, 'os', `${this.options.description}: ${what} at ${hex(at)}`)
  }

  /** After a batch with failures, checks once whether the process went away; if so every failure is 'stale'. */
  private async markStale<R extends PieceResult | WriteResult>(results: R[]): Promise<R[]> {
    if (results.every((r) => r.ok)) return results
    const reason = await this.options.staleReason()
    if (reason === undefined) return results
    const error = new MemweaveError('os', 'stale', `${this.options.description} ${reason}`)
    return results.map((r) => (r.ok ? r : { ...r, error }))
  }
}
