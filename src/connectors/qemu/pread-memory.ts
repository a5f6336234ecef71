/**
 * Physical memory served by positional reads on one fd: /proc/PID/mem of a
 * QEMU process (position = host address) or /proc/kcore (position = file
 * offset). A RangeMap turns guest addresses into positions. A batch becomes
 * few large reads: extents are sorted and merged while they touch, or sit
 * close together inside one span of positions known to be readable (a hole
 * between two spans may be unmapped, so a read never crosses it). A piece
 * that is one extent comes back as a view of its read's buffer. A failed
 * read is retried piece by piece, so one bad piece never fails the rest.
 * readInto follows the same plan straight into the caller's target wherever
 * a merged read lands there in one stretch (one copy, source → target).
 */
import { write as fsWrite } from 'node:fs'
import { preadInto } from '../positional-read.js'
import { MemweaveError, toMemweaveError } from '../../errors/index.js'
import { MAX_PIECE_BYTES, hex } from '../../mem/index.js'
import type { MemMetadata, PhysAddr, PhysicalMemory, PieceResult, RangeMap, ReadIntoPiece, ReadIntoResult, ReadPiece, WritePiece, WriteResult } from '../../mem/index.js'
import { InFlight } from '../in-flight.js'
import { directTarget } from '../run-target.js'

export interface PreadGuard {
  /** An error when the source must not be used any more (stale, closed), else undefined. */
  blocked(): Promise<MemweaveError | undefined> | MemweaveError | undefined
  /** A read failed or came back short: look at the source now; an error returned replaces the i/o error. */
  readFailed(): Promise<MemweaveError | undefined>
}

export interface PreadMemoryOptions {
  /** Names the source in messages: "QEMU pid 1234", "/proc/kcore". */
  readonly name: string
  readonly fd: number
  /** The fd was opened for writing. */
  readonly writable: boolean
  /** Guest address → position on the fd. */
  readonly map: RangeMap
  /** Gaps fail as 'unmapped' instead of reading as zeros. */
  readonly strict: boolean
  readonly volatile: boolean
  readonly guard: PreadGuard
  /** Extents this close inside one span share a read. */
  readonly gapBytes?: number
  /** A run grows only while it stays below this. */
  readonly maxRunBytes?: number
}

export interface PreadMemoryStats {
  reads: number
  pieces: number
  bytesRead: number
  preads: number
  preadBytes: number
  zeroFilledBytes: number
  failedPieces: number
  writes: number
  bytesWritten: number
}

interface Extent { readonly pos: number; readonly length: number; readonly piece: number; readonly dest: number; readonly span: number }
interface Run { readonly pos: number; readonly length: number; readonly extents: readonly Extent[] }

export const PREAD_IDEAL_BATCH_SIZE = 256
const MAX_PARALLEL_READS = 4
const EMPTY = new Uint8Array(0)

export class PreadMemory implements PhysicalMemory {
  readonly stats: PreadMemoryStats = { reads: 0, pieces: 0, bytesRead: 0, preads: 0, preadBytes: 0, zeroFilledBytes: 0, failedPieces: 0, writes: 0, bytesWritten: 0 }
  /** Sorted, merged [start, end) position spans; a read stays inside one. */
  private readonly spans: { start: number; end: number }[] = []
  private readonly gapBytes: number
  private readonly maxRunBytes: number
  private readonly inFlight = new InFlight()

  constructor(private readonly options: PreadMemoryOptions) {
    this.gapBytes = options.gapBytes ?? 16 * 1024
    this.maxRunBytes = options.maxRunBytes ?? 2 * 1024 * 1024
    const sorted = options.map.ranges.map((r) => ({ start: r.backing, end: r.backing + r.length })).sort((a, b) => (a.start < b.start ? -1 : 1))
    for (const r of sorted) {
      if (r.end > BigInt(Number.MAX_SAFE_INTEGER)) throw new MemweaveError('connector', 'unsupported', `${options.name}: position ${hex(r.end)} is beyond 2^53`)
      const last = this.spans[this.spans.length - 1]
      if (last !== undefined && Number(r.start) <= last.end) last.end = Math.max(last.end, Number(r.end))
      else this.spans.push({ start: Number(r.start), end: Number(r.end) })
    }
  }

  metadata(): MemMetadata {
    return { maxAddress: this.options.map.maxAddress, idealBatchSize: PREAD_IDEAL_BATCH_SIZE, readonly: !this.options.writable, volatile: this.options.volatile }
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

  /** Resolves once no read or write uses the fd (call before closing it). */
  idle(): Promise<void> {
    return this.inFlight.idle()
  }

  private async readBatch(pieces: readonly ReadPiece<PhysAddr>[]): Promise<PieceResult[]> {
    this.stats.reads++
    this.stats.pieces += pieces.length
    const results = new Array<PieceResult>(pieces.length)
    const blocked = await this.options.guard.blocked()
    if (blocked !== undefined) {
      this.stats.failedPieces += pieces.length
      return results.fill({ ok: false, error: blocked })
    }
    const extents: Extent[] = []
    for (let i = 0; i < pieces.length; i++) results[i] = this.planPiece(pieces[i]!, i, extents)
    if (extents.length > 0) await this.readRuns(this.planRuns(extents), results)
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
    if (blocked !== undefined) {
      this.stats.failedPieces += pieces.length
      return results.fill({ ok: false, error: blocked })
    }
    const extents: Extent[] = []
    for (let i = 0; i < pieces.length; i++) results[i] = this.planPieceInto(pieces[i]!, i, extents, target)
    if (extents.length > 0) {
      const runs = this.planRuns(extents)
      let failureCheck: Promise<MemweaveError | undefined> | undefined
      const onFailure = (): Promise<MemweaveError | undefined> => (failureCheck ??= this.options.guard.readFailed())
      let next = 0
      const worker = async (): Promise<void> => {
        while (next < runs.length) await this.readRunInto(runs[next++]!, target, results, onFailure)
      }
      await Promise.all(Array.from({ length: Math.min(MAX_PARALLEL_READS, runs.length) }, worker))
    }
    for (const result of results) {
      if (result.ok) this.stats.bytesRead += result.length
      else this.stats.failedPieces++
    }
    return results
  }

  /** Queues a piece's extents with absolute target offsets, zero-filling its gaps in place. */
  private planPieceInto(piece: ReadIntoPiece<PhysAddr>, index: number, extents: Extent[], target: Uint8Array): ReadIntoResult {
    const bad = this.checkPiece(piece.addr, piece.length, 'read')
    if (bad !== undefined) return { ok: false, error: bad }
    if (piece.length === 0) return { ok: true, length: 0 }
    const segments = this.options.map.segments(piece.addr, piece.length)
    const gap = segments.find((s) => s.backing === undefined)
    if (this.options.strict && gap !== undefined) {
      return { ok: false, error: new MemweaveError('connector', 'unmapped', `${this.options.name}: guest address ${hex(gap.addr)} is not RAM (strict mode; read of ${piece.length} bytes at ${hex(piece.addr)})`) }
    }
    let dest = piece.at
    for (const s of segments) {
      if (s.backing === undefined) { target.fill(0, dest, dest + s.length); this.stats.zeroFilledBytes += s.length }
      else extents.push({ pos: Number(s.backing), length: s.length, piece: index, dest, span: this.spanOf(Number(s.backing)) })
      dest += s.length
    }
    return { ok: true, length: piece.length }
  }

  /** Reads one run into buffer; undefined when every byte arrived, else why not. */
  private async fillRun(run: Run, buffer: Uint8Array): Promise<MemweaveError | undefined> {
    let done = 0
    try {
      done = await this.fill(buffer, run.pos)
    } catch (err) {
      return toMemweaveError(err, 'connector', `${this.options.name}: read of ${run.length} bytes at ${hex(run.pos)} failed`)
    }
    if (done < run.length) return new MemweaveError('connector', 'io', `${this.options.name}: read at ${hex(run.pos + done)} came back empty`)
    return undefined
  }

  private async readRunInto(run: Run, target: Uint8Array, results: ReadIntoResult[], onFailure: () => Promise<MemweaveError | undefined>): Promise<void> {
    const direct = directTarget(run.pos, run.length, run.extents)
    const buffer = direct !== undefined ? target.subarray(direct, direct + run.length) : new Uint8Array(run.length)
    let failure = await this.fillRun(run, buffer)
    if (failure !== undefined && run.extents.length > 1) {
      // Isolate the bad piece: each extent on its own.
      for (const extent of run.extents) await this.readRunInto({ pos: extent.pos, length: extent.length, extents: [extent] }, target, results, onFailure)
      return
    }
    if (failure !== undefined) failure = (await onFailure()) ?? failure
    for (const extent of run.extents) {
      if (failure !== undefined) { results[extent.piece] = { ok: false, error: failure }; continue }
      if (direct === undefined) target.set(buffer.subarray(extent.pos - run.pos, extent.pos - run.pos + extent.length), extent.dest)
    }
  }

  /** Queues a piece's extents; returns its result (a buffer to fill, a placeholder for a view, or a failure). */
  private planPiece(piece: ReadPiece<PhysAddr>, index: number, extents: Extent[]): PieceResult {
    const bad = this.checkPiece(piece.addr, piece.length, 'read')
    if (bad !== undefined) return { ok: false, error: bad }
    if (piece.length === 0) return { ok: true, data: EMPTY }
    const segments = this.options.map.segments(piece.addr, piece.length)
    const only = segments.length === 1 ? segments[0] : undefined
    if (only?.backing !== undefined) {
      const pos = Number(only.backing)
      extents.push({ pos, length: piece.length, piece: index, dest: -1, span: this.spanOf(pos) })
      return { ok: true, data: EMPTY }
    }
    const gap = segments.find((s) => s.backing === undefined)
    if (this.options.strict && gap !== undefined) {
      return { ok: false, error: new MemweaveError('connector', 'unmapped', `${this.options.name}: guest address ${hex(gap.addr)} is not RAM (strict mode; read of ${piece.length} bytes at ${hex(piece.addr)})`) }
    }
    let dest = 0
    for (const s of segments) {
      if (s.backing === undefined) this.stats.zeroFilledBytes += s.length
      else extents.push({ pos: Number(s.backing), length: s.length, piece: index, dest, span: this.spanOf(Number(s.backing)) })
      dest += s.length
    }
    return { ok: true, data: new Uint8Array(piece.length) }
  }

  private spanOf(pos: number): number {
    let lo = 0
    let hi = this.spans.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.spans[mid]!.end <= pos) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  private planRuns(extents: Extent[]): Run[] {
    if (extents.length > 1) extents.sort((a, b) => a.pos - b.pos || b.length - a.length)
    const runs: Run[] = []
    let members: Extent[] = []
    let start = 0
    let end = 0
    let span = -1
    for (const e of extents) {
      const eEnd = e.pos + e.length
      const near = e.pos <= end || (e.span === span && e.pos <= end + this.gapBytes)
      if (members.length > 0 && near && (eEnd <= end || Math.max(end, eEnd) - start <= this.maxRunBytes)) {
        members.push(e)
        end = Math.max(end, eEnd)
        continue
      }
      if (members.length > 0) runs.push({ pos: start, length: end - start, extents: members })
      members = [e]
      start = e.pos
      end = eEnd
      span = e.span
    }
    if (members.length > 0) runs.push({ pos: start, length: end - start, extents: members })
    return runs
  }

  private async readRuns(runs: readonly Run[], results: PieceResult[]): Promise<void> {
    let failureCheck: Promise<MemweaveError | undefined> | undefined
    const onFailure = (): Promise<MemweaveError | undefined> => (failureCheck ??= this.options.guard.readFailed())
    if (runs.length === 1) { await this.readRun(runs[0]!, results, onFailure); return }
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < runs.length) await this.readRun(runs[next++]!, results, onFailure)
    }
    await Promise.all(Array.from({ length: Math.min(MAX_PARALLEL_READS, runs.length) }, worker))
  }

  private async readRun(run: Run, results: PieceResult[], onFailure: () => Promise<MemweaveError | undefined>): Promise<void> {
    // Its own ArrayBuffer (not Node's shared pool): views handed out never expose unrelated memory.
    const raw = Buffer.allocUnsafeSlow(run.length)
    const buffer = new Uint8Array(raw.buffer, raw.byteOffset, run.length)
    let failure = await this.fillRun(run, buffer)
    if (failure !== undefined && run.extents.length > 1) {
      // Isolate the bad piece: each extent on its own.
      for (const extent of run.extents) await this.readRun({ pos: extent.pos, length: extent.length, extents: [extent] }, results, onFailure)
      return
    }
    if (failure !== undefined) failure = (await onFailure()) ?? failure
    for (const extent of run.extents) {
      if (failure !== undefined) { results[extent.piece] = { ok: false, error: failure }; continue }
      const view = buffer.subarray(extent.pos - run.pos, extent.pos - run.pos + extent.length)
      const current = results[extent.piece]
      if (extent.dest < 0) results[extent.piece] = { ok: true, data: view }
      else if (current?.ok === true) current.data.set(view, extent.dest)
    }
  }

  /** Reads until the buffer is full or the fd gives nothing more; returns bytes read. */
  private async fill(buffer: Uint8Array, pos: number): Promise<number> {
    let done = 0
    while (done < buffer.length) {
      const n = await preadInto(this.options.fd, buffer, done, buffer.length - done, pos + done)
      this.stats.preads++
      this.stats.preadBytes += n
      if (n === 0) break
      done += n
    }
    return done
  }

  private async writeBatch(pieces: readonly WritePiece<PhysAddr>[]): Promise<WriteResult[]> {
    this.stats.writes++
    if (!this.options.writable) {
      const error = new MemweaveError('connector', 'permission', `${this.options.name} is read-only (writes need a node started with writes allowed)`)
      return pieces.map(() => ({ ok: false, error }))
    }
    const blocked = await this.options.guard.blocked()
    if (blocked !== undefined) return pieces.map(() => ({ ok: false, error: blocked }))
    const results: WriteResult[] = []
    for (const piece of pieces) results.push(await this.writePiece(piece))
    return results
  }

  private async writePiece(piece: WritePiece<PhysAddr>): Promise<WriteResult> {
    const bad = this.checkPiece(piece.addr, piece.data.length, 'write')
    if (bad !== undefined) return { ok: false, error: bad }
    const segments = piece.data.length === 0 ? [] : this.options.map.segments(piece.addr, piece.data.length)
    const gap = segments.find((s) => s.backing === undefined)
    if (gap !== undefined) return { ok: false, error: new MemweaveError('connector', 'unmapped', `${this.options.name}: cannot write at ${hex(gap.addr)}: not RAM`) }
    let dest = 0
    for (const s of segments) {
      try {
        await pwriteAll(this.options.fd, piece.data.subarray(dest, dest + s.length), Number(s.backing))
      } catch (err) {
        const stale = await this.options.guard.readFailed()
        return { ok: false, error: stale ?? toMemweaveError(err, 'connector', `${this.options.name}: write of ${s.length} bytes at ${hex(s.addr)} failed`) }
      }
      dest += s.length
      this.stats.bytesWritten += s.length
    }
    return { ok: true }
  }

  private checkPiece(addr: bigint, length: number, verb: string): MemweaveError | undefined {
    const name = this.options.name
    if (!Number.isSafeInteger(length) || length < 0) return new MemweaveError('connector', 'invalid_argument', `${name}: bad ${verb} length ${String(length)}`)
    if (length > MAX_PIECE_BYTES) return new MemweaveError('connector', 'too_large', `${name}: ${verb} of ${length} bytes at ${hex(addr)} exceeds the ${MAX_PIECE_BYTES}-byte piece limit`)
    if (addr < 0n) return new MemweaveError('connector', 'invalid_argument', `${name}: negative address ${addr}`)
    const max = this.options.map.maxAddress
    if (addr + BigInt(length) > max) return new MemweaveError('connector', 'out_of_bounds', `${name}: ${verb} of ${length} bytes at ${hex(addr)} goes past the end of guest memory (${hex(max)})`)
    return undefined
  }
}

function pwriteAll(fd: number, data: Uint8Array, position: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (done: number): void => {
      if (done >= data.length) { resolve(); return }
      fsWrite(fd, data, done, data.length - done, position + done, (err, written) => {
        if (err !== null) reject(err)
        else if (written === 0) reject(new MemweaveError('connector', 'io', `write at ${hex(position + done)} wrote nothing`))
        else step(done + written)
      })
    }
    step(0)
  })
}
