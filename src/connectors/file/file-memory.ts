/**
 * The physical memory of an image file. A batch is split by the address map
 * into file extents, gaps and zero tails; the extents are merged into few
 * large positional reads on one fd (read-plan.ts), and a piece that is one
 * extent is handed back as a view into its read's buffer, without a copy.
 */
import { write as fsWrite } from 'node:fs'
import { MemweaveError, toMemweaveError } from '../../errors/index.js'
import { MAX_PIECE_BYTES, hex } from '../../mem/index.js'
import type { MemMetadata, PhysAddr, PhysicalMemory, PieceResult, RangeMap, ReadIntoPiece, ReadIntoResult, ReadPiece, WritePiece, WriteResult } from '../../mem/index.js'
import { isZeroFill } from './image-layout.js'
import { readInto } from './image-source.js'
import { planReads } from './read-plan.js'
import type { FileExtent, ReadRun } from './read-plan.js'
import { InFlight } from '../in-flight.js'
import { directTarget } from '../run-target.js'

/** What the memory asks its owner about the file: still the same one? */
export interface FileGuard {
  /** An error when the file must not be used any more (stale, closed), else undefined. */
  blocked(): Promise<MemweaveError | undefined> | MemweaveError | undefined
  /** The file ended early under a read: look again now. */
  suspect(): void
  /** Runs our own writes so their size/mtime changes are not taken as foreign ones. */
  ownWrite<T>(work: () => Promise<T>): Promise<T>
}

export interface FileMemoryOptions {
  readonly path: string
  readonly fd: number
  readonly map: RangeMap
  readonly strict: boolean
  readonly volatile: boolean
  readonly readonly: boolean
  readonly guard: FileGuard
}

export interface FileMemoryStats {
  reads: number
  pieces: number
  bytesRead: number
  fileReads: number
  fileBytesRead: number
  zeroFilledBytes: number
  failedPieces: number
  writes: number
  bytesWritten: number
}

export const IDEAL_BATCH_SIZE = 256
const MAX_PARALLEL_READS = 4
const EMPTY = new Uint8Array(0)

export class FileMemory implements PhysicalMemory {
  readonly stats: FileMemoryStats = { reads: 0, pieces: 0, bytesRead: 0, fileReads: 0, fileBytesRead: 0, zeroFilledBytes: 0, failedPieces: 0, writes: 0, bytesWritten: 0 }
  private readonly maxAddress: bigint
  private readonly inFlight = new InFlight()

  constructor(private readonly options: FileMemoryOptions) {
    this.maxAddress = options.map.maxAddress
  }

  metadata(): MemMetadata {
    return { maxAddress: this.maxAddress, idealBatchSize: IDEAL_BATCH_SIZE, readonly: this.options.readonly, volatile: this.options.volatile }
  }

  read(pieces: readonly ReadPiece<PhysAddr>[]): Promise<PieceResult[]> {
    return this.inFlight.run(() => this.readBatch(pieces))
  }

  readInto(pieces: readonly ReadIntoPiece<PhysAddr>[], target: Uint8Array): Promise<ReadIntoResult[]> {
    return this.inFlight.run(() => this.readIntoBatch(pieces, target))
  }

  write(pieces: readonly WritePiece<PhysAddr>[]): Promise<WriteResult[]> {
    return this.inFlight.run(() => this.writeBatch(pieces))
  }

  /** Resolves once no read or write is using the fd (before it is closed). */
  idle(): Promise<void> {
    return this.inFlight.idle()
  }

  private async readBatch(pieces: readonly ReadPiece<PhysAddr>[]): Promise<PieceResult[]> {
    this.stats.reads++
    this.stats.pieces += pieces.length
    const results: PieceResult[] = new Array<PieceResult>(pieces.length)
    const blocked = await this.options.guard.blocked()
    if (blocked !== undefined) return this.failAll(results, blocked)
    const extents: FileExtent[] = []
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i]!
      const bad = this.checkPiece(piece.addr, piece.length, 'read')
      if (bad !== undefined) { results[i] = { ok: false, error: bad }; continue }
      results[i] = this.planPiece(piece, i, extents)
    }
    if (extents.length > 0) await this.readRuns(planReads(extents), results)
    for (const result of results) {
      if (result.ok) this.stats.bytesRead += result.data.length
      else this.stats.failedPieces++
    }
    return results
  }

  private async readIntoBatch(pieces: readonly ReadIntoPiece<PhysAddr>[], target: Uint8Array): Promise<ReadIntoResult[]> {
    this.stats.reads++
    this.stats.pieces += pieces.length
    const results = new Array<ReadIntoResult>(pieces.length)
    const blocked = await this.options.guard.blocked()
    if (blocked !== undefined) { this.stats.failedPieces += pieces.length; return results.fill({ ok: false, error: blocked }) }
    const extents: FileExtent[] = []
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i]!
      const bad = this.checkPiece(piece.addr, piece.length, 'read')
      results[i] = bad !== undefined ? { ok: false, error: bad } : this.planPieceInto(piece, i, extents, target)
    }
    if (extents.length > 0) {
      const runs = planReads(extents)
      let next = 0
      const worker = async (): Promise<void> => {
        while (next < runs.length) await this.readRunInto(runs[next++]!, target, results)
      }
      await Promise.all(Array.from({ length: Math.min(MAX_PARALLEL_READS, runs.length) }, worker))
    }
    for (const result of results) {
      if (result.ok) this.stats.bytesRead += result.length
      else this.stats.failedPieces++
    }
    return results
  }

  /** Queues a piece's extents with their absolute target offsets, zero-filling its gaps in place. */
  private planPieceInto(piece: ReadIntoPiece<PhysAddr>, index: number, extents: FileExtent[], target: Uint8Array): ReadIntoResult {
    if (piece.length === 0) return { ok: true, length: 0 }
    const segments = this.options.map.segments(piece.addr, piece.length)
    if (this.options.strict) {
      const gap = segments.find((s) => s.backing === undefined)
      if (gap !== undefined) {
        return { ok: false, error: new MemweaveError('connector', 'unmapped', `${this.options.path}: address ${hex(gap.addr)} is not in the image (strict mode; read of ${piece.length} bytes at ${hex(piece.addr)})`) }
      }
    }
    let dest = piece.at
    for (const s of segments) {
      if (s.backing !== undefined && !isZeroFill(s.backing)) extents.push({ offset: Number(s.backing), length: s.length, piece: index, dest })
      else { target.fill(0, dest, dest + s.length); this.stats.zeroFilledBytes += s.length }
      dest += s.length
    }
    return { ok: true, length: piece.length }
  }

  /** Reads one merged run into buffer; a short file or a failed read is the run's failure, with how much arrived. */
  private async fillRun(run: ReadRun, buffer: Uint8Array): Promise<{ done: number; failure: MemweaveError | undefined }> {
    let done = 0
    let failure: MemweaveError | undefined
    try {
      while (done < run.length) {
        const n = await readInto(this.options.fd, buffer, done, run.length - done, run.offset + done)
        if (n === 0) break
        done += n
      }
    } catch (err) {
      failure = toMemweaveError(err, 'connector', `${this.options.path}: read of ${run.length} bytes at file offset ${run.offset} failed`)
    }
    this.stats.fileReads++
    this.stats.fileBytesRead += done
    if (failure === undefined && done < run.length) {
      this.options.guard.suspect()
      failure = new MemweaveError('connector', 'io', `${this.options.path}: file ended at offset ${run.offset + done} while reading up to ${run.offset + run.length} (changed on disk?)`)
    }
    return { done, failure }
  }

  private async readRunInto(run: ReadRun, target: Uint8Array, results: ReadIntoResult[]): Promise<void> {
    const direct = directTarget(run.offset, run.length, run.extents.map((e) => ({ pos: e.offset, length: e.length, dest: e.dest })))
    const buffer = direct !== undefined ? target.subarray(direct, direct + run.length) : new Uint8Array(run.length)
    const { done, failure } = await this.fillRun(run, buffer)
    for (const extent of run.extents) {
      const at = extent.offset - run.offset
      if (failure !== undefined && at + extent.length > done) { results[extent.piece] = { ok: false, error: failure }; continue }
      if (direct === undefined) target.set(buffer.subarray(at, at + extent.length), extent.dest)
    }
  }

  /** Queues a piece's file extents; returns its result (zeros to be filled in, or a failure). */
  private planPiece(piece: ReadPiece<PhysAddr>, index: number, extents: FileExtent[]): PieceResult {
    if (piece.length === 0) return { ok: true, data: EMPTY }
    const segments = this.options.map.segments(piece.addr, piece.length)
    const only = segments.length === 1 ? segments[0] : undefined
    if (only?.backing !== undefined && !isZeroFill(only.backing)) {
      extents.push({ offset: Number(only.backing), length: piece.length, piece: index, dest: -1 })
      return { ok: true, data: EMPTY } // replaced by the read's view
    }
    if (this.options.strict) {
      const gap = segments.find((s) => s.backing === undefined)
      if (gap !== undefined) {
        return { ok: false, error: new MemweaveError('connector', 'unmapped', `${this.options.path}: address ${hex(gap.addr)} is not in the image (strict mode; read of ${piece.length} bytes at ${hex(piece.addr)})`) }
      }
    }
    let dest = 0
    for (const s of segments) {
      if (s.backing !== undefined && !isZeroFill(s.backing)) extents.push({ offset: Number(s.backing), length: s.length, piece: index, dest })
      else this.stats.zeroFilledBytes += s.length
      dest += s.length
    }
    return { ok: true, data: new Uint8Array(piece.length) }
  }

  private async readRuns(runs: readonly ReadRun[], results: PieceResult[]): Promise<void> {
    if (runs.length === 1) { await this.readRun(runs[0]!, results); return }
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < runs.length) await this.readRun(runs[next++]!, results)
    }
    await Promise.all(Array.from({ length: Math.min(MAX_PARALLEL_READS, runs.length) }, worker))
  }

  private async readRun(run: ReadRun, results: PieceResult[]): Promise<void> {
    // Its own ArrayBuffer (not the shared pool), filled by the read below: views never expose unrelated memory.
    const raw = Buffer.allocUnsafeSlow(run.length)
    const buffer = new Uint8Array(raw.buffer, raw.byteOffset, run.length)
    const { done, failure } = await this.fillRun(run, buffer)
    for (const extent of run.extents) {
      const at = extent.offset - run.offset
      if (failure !== undefined && at + extent.length > done) { results[extent.piece] = { ok: false, error: failure }; continue }
      const view = buffer.subarray(at, at + extent.length)
      const current = results[extent.piece]
      if (extent.dest < 0) results[extent.piece] = { ok: true, data: view }
      else if (current?.ok === true) current.data.set(view, extent.dest)
    }
  }

  private async writeBatch(pieces: readonly WritePiece<PhysAddr>[]): Promise<WriteResult[]> {
    this.stats.writes++
    if (this.options.readonly) {
      const error = new MemweaveError('connector', 'permission', `${this.options.path} is open read-only (writes need a node started with writes allowed and a writable file)`)
      return pieces.map(() => ({ ok: false, error }))
    }
    const blocked = await this.options.guard.blocked()
    if (blocked !== undefined) return pieces.map(() => ({ ok: false, error: blocked }))
    return this.options.guard.ownWrite(async () => {
      const results: WriteResult[] = []
      for (const piece of pieces) results.push(await this.writePiece(piece))
      return results
    })
  }

  private async writePiece(piece: WritePiece<PhysAddr>): Promise<WriteResult> {
    const bad = this.checkPiece(piece.addr, piece.data.length, 'write')
    if (bad !== undefined) return { ok: false, error: bad }
    const segments = piece.data.length === 0 ? [] : this.options.map.segments(piece.addr, piece.data.length)
    for (const s of segments) {
      if (s.backing === undefined) return { ok: false, error: new MemweaveError('connector', 'unmapped', `${this.options.path}: cannot write at ${hex(s.addr)}: not in the image`) }
      if (isZeroFill(s.backing)) return { ok: false, error: new MemweaveError('connector', 'unsupported', `${this.options.path}: cannot write at ${hex(s.addr)}: the segment has no bytes in the file there (p_filesz < p_memsz)`) }
    }
    let dest = 0
    for (const s of segments) {
      try {
        await writeFully(this.options.fd, piece.data.subarray(dest, dest + s.length), Number(s.backing))
      } catch (err) {
        return { ok: false, error: toMemweaveError(err, 'connector', `${this.options.path}: write of ${s.length} bytes at ${hex(s.addr)} failed`) }
      }
      dest += s.length
      this.stats.bytesWritten += s.length
    }
    return { ok: true }
  }

  private checkPiece(addr: bigint, length: number, verb: string): MemweaveError | undefined {
    if (!Number.isSafeInteger(length) || length < 0) return new MemweaveError('connector', 'invalid_argument', `${this.options.path}: bad ${verb} length ${String(length)}`)
    if (length > MAX_PIECE_BYTES) return new MemweaveError('connector', 'too_large', `${this.options.path}: ${verb} of ${length} bytes at ${hex(addr)} exceeds the ${MAX_PIECE_BYTES}-byte piece limit`)
    if (typeof addr !== 'bigint' || addr < 0n) return new MemweaveError('connector', 'invalid_argument', `${this.options.path}: bad ${verb} address ${String(addr)}`)
    if (addr + BigInt(length) > this.maxAddress) {
      return new MemweaveError('connector', 'out_of_bounds', `${this.options.path}: ${verb} of ${length} bytes at ${hex(addr)} goes past the end of the image (max address ${hex(this.maxAddress)})`)
    }
    return undefined
  }

  private failAll(results: PieceResult[], error: MemweaveError): PieceResult[] {
    results.fill({ ok: false, error })
    this.stats.failedPieces += results.length
    return results
  }
}

function writeFully(fd: number, data: Uint8Array, position: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (done: number): void => {
      if (done >= data.length) { resolve(); return }
      fsWrite(fd, data, done, data.length - done, position + done, (err, written) => {
        if (err !== null) reject(err)
        else step(done + written)
      })
    }
    step(0)
  })
}
