/**
 * Physical memory served by positional reads on one fd: a memory image file
 * (position = file offset), /proc/PID/mem of a QEMU process (position = host
 * address) or /proc/kcore (position = file offset). A RangeMap turns
 * addresses into positions; a negative position (the part of an ELF segment
 * past p_filesz) reads as zeros.
 *
 *   read([pieces]) ─▶ extents (gaps: zeros, or 'unmapped' when strict) ─▶ planReads: few merged runs
 *        ─▶ up to 4 runs in flight, one pread loop each ─▶ a piece that is one extent: a view of its run's buffer
 *   readInto: the same plan, each run straight into the caller's target where it tiles it (run-target.ts)
 *
 * A source with holes between its ranges (/proc/PID/mem, kcore) never reads
 * across one (read-plan.ts). A run that fails or comes back short is read
 * again extent by extent, so one bad piece never fails its neighbours; the
 * owner is then asked whether the source went away (guard.readFailed), whose
 * answer (a 'stale' error) replaces the i/o error. Writes go piece by piece,
 * each refused whole when any byte of it has no backing.
 */
import { write as fsWrite } from 'node:fs'
import { MemweaveError, toMemweaveError } from '../../errors/index.js'
import { MAX_PIECE_BYTES, hex } from '../../mem/index.js'
import type { FileExtent, FileMap, FileSpans, MemMetadata, PhysAddr, PhysicalMemory, PieceResult, RangeMap, RangeSegment, ReadIntoPiece, ReadIntoResult, ReadPiece, WritePiece, WriteResult } from '../../mem/index.js'
import { preadInto } from '../positional-read.js'
import { InFlight } from './in-flight.js'
import { DEFAULT_PLAN, planReads } from './read-plan.js'
import type { Extent, ReadRun } from './read-plan.js'
import { directTarget } from './run-target.js'

/** What the memory asks its owner about the source: may it still be used? */
export interface PreadGuard {
  /** An error when the source must not be used any more (stale, closed), else undefined. */
  blocked(): Promise<MemweaveError | undefined> | MemweaveError | undefined
  /** A read or write failed or came back short: look at the source now; an error returned replaces the i/o error. */
  readFailed(): Promise<MemweaveError | undefined>
  /** Runs our own writes (so a file watch does not take their size/mtime change for a foreign one); without it they just run. */
  ownWrite?<T>(work: () => Promise<T>): Promise<T>
}

/** How messages name an address and a gap in the source's own words. */
export interface PreadWords {
  /** "guest address" (a VM's RAM) or "address" (an image). */
  readonly address: string
  /** "not RAM" or "not in the image". */
  readonly gap: string
}

export interface PreadMemoryOptions {
  /** Names the source in messages: "QEMU pid 1234", "/proc/kcore", an image's path. */
  readonly name: string
  readonly fd: number
  /** The fd was opened for writing (and the node allows writes). */
  readonly writable: boolean
  /** Address → position on the fd. */
  readonly map: RangeMap
  /** Gaps fail as 'unmapped' instead of reading as zeros. */
  readonly strict: boolean
  readonly volatile: boolean
  readonly guard: PreadGuard
  /** Positions between the mapped ranges may be unreadable (/proc/PID/mem, kcore): default true. An image file is readable throughout. */
  readonly holes?: boolean
  readonly words?: PreadWords
  /** Extents this close inside one readable span share a read. */
  readonly gapBytes?: number
  /** A run grows only while it stays below this. */
  readonly maxRunBytes?: number
  /** The fd is a plain file whose positions can be handed out as file spans (an image file; not /proc/PID/mem or kcore). */
  readonly plainFile?: boolean
}

export interface PreadMemoryStats {
  /** Batches read (read and readInto calls). */
  reads: number
  pieces: number
  bytesRead: number
  /** pread(2) calls, and the bytes they returned. */
  preads: number
  preadBytes: number
  zeroFilledBytes: number
  failedPieces: number
  writes: number
  bytesWritten: number
}

export const PREAD_IDEAL_BATCH_SIZE = 256
const MAX_PARALLEL_READS = 4
const EMPTY = new Uint8Array(0)
const GUEST_WORDS: PreadWords = { address: 'guest address', gap: 'not RAM' }

type Failure = () => Promise<MemweaveError | undefined>

export class PreadMemory implements PhysicalMemory {
  readonly stats: PreadMemoryStats = { reads: 0, pieces: 0, bytesRead: 0, preads: 0, preadBytes: 0, zeroFilledBytes: 0, failedPieces: 0, writes: 0, bytesWritten: 0 }
  /** Sorted, merged [start, end) position spans; a read stays inside one (one span, [0, ∞), without holes). */
  private readonly spans: { start: number; end: number }[] = []
  private readonly plan: { gapBytes: number; maxRunBytes: number }
  private readonly words: PreadWords
  private readonly inFlight = new InFlight()

  constructor(private readonly options: PreadMemoryOptions) {
    this.plan = { gapBytes: options.gapBytes ?? DEFAULT_PLAN.gapBytes, maxRunBytes: options.maxRunBytes ?? DEFAULT_PLAN.maxRunBytes }
    this.words = options.words ?? GUEST_WORDS
    const sorted = options.map.ranges.filter((r) => r.backing >= 0n).map((r) => ({ start: r.backing, end: r.backing + r.length })).sort((a, b) => (a.start < b.start ? -1 : 1))
    for (const r of sorted) {
      if (r.end > BigInt(Number.MAX_SAFE_INTEGER)) throw new MemweaveError('connector', 'unsupported', `${options.name}: position ${hex(r.end)} is beyond 2^53`)
      if (options.holes === false) continue
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

  /**
   * [addr, addr + length) as spans of the fd and runs of zeros (an image
   * file only); the fd stays open until release(). Undefined when the range
   * cannot be read that way (strict gaps, bounds): read() says why.
   */
  fileSpans(addr: PhysAddr, length: number): FileSpans | undefined {
    if (this.options.plainFile !== true) return undefined
    const segments = this.segmentsOf(addr, length)
    if (segments instanceof MemweaveError) return undefined
    const fd = this.options.fd
    const spans = segments.map((s) => (s.backing !== undefined && s.backing >= 0n ? { fd, pos: Number(s.backing), length: s.length } : { fd: -1, pos: 0, length: s.length }))
    this.stats.reads++
    this.stats.pieces++
    this.stats.bytesRead += length
    return { spans, release: this.inFlight.hold() }
  }

  /**
   * The whole image as extents of the fd (ranges whose bytes are in the
   * file), zeros (the rest of a range, and gaps unless strict: a strict gap
   * is left out, so read() says why it fails); an image file only. The fd
   * stays open until release().
   */
  fileMap(): FileMap | undefined {
    if (this.options.plainFile !== true) return undefined
    const extents: FileExtent[] = []
    let cursor = 0n
    const zeros = (end: bigint): void => {
      if (end > cursor && !this.options.strict) extents.push({ addr: cursor, length: end - cursor, pos: -1 })
    }
    for (const r of this.options.map.ranges) {
      zeros(r.start)
      extents.push({ addr: r.start, length: r.length, pos: r.backing >= 0n ? Number(r.backing) : -1 })
      cursor = r.start + r.length
    }
    return { fd: this.options.fd, extents, release: this.inFlight.hold() }
  }

  /** Resolves once no read or write uses the fd (call before closing it). */
  idle(): Promise<void> {
    return this.inFlight.idle()
  }

  private async readBatch(pieces: readonly ReadPiece<PhysAddr>[]): Promise<PieceResult[]> {
    this.stats.reads++
    this.stats.pieces += pieces.length
    const blocked = await this.options.guard.blocked()
    if (blocked !== undefined) {
      this.stats.failedPieces += pieces.length
      return pieces.map(() => ({ ok: false, error: blocked }))
    }
    const extents: Extent[] = []
    const results = pieces.map((piece, i) => this.planPiece(piece, i, extents))
    if (extents.length > 0) await this.eachRun(planReads(extents, this.plan), (run, onFailure) => this.readRun(run, results, onFailure))
    for (const result of results) {
      if (result.ok) this.stats.bytesRead += result.data.length
      else this.stats.failedPieces++
    }
    return results
  }

  private async readIntoBatch(pieces: readonly ReadIntoPiece<PhysAddr>[], target: Uint8Array): Promise<ReadIntoResult[]> {
    this.stats.reads++
    this.stats.pieces += pieces.length
    const blocked = await this.options.guard.blocked()
    if (blocked !== undefined) {
      this.stats.failedPieces += pieces.length
      return pieces.map(() => ({ ok: false, error: blocked }))
    }
    const extents: Extent[] = []
    const results = pieces.map((piece, i) => this.planPieceInto(piece, i, extents, target))
    if (extents.length > 0) await this.eachRun(planReads(extents, this.plan), (run, onFailure) => this.readRunInto(run, target, results, onFailure))
    for (const result of results) {
      if (result.ok) this.stats.bytesRead += result.length
      else this.stats.failedPieces++
    }
    return results
  }

  /** Runs `work` over the runs, up to MAX_PARALLEL_READS at a time; the owner is asked about a failure once per batch. */
  private async eachRun(runs: readonly ReadRun[], work: (run: ReadRun, onFailure: Failure) => Promise<void>): Promise<void> {
    let failureCheck: Promise<MemweaveError | undefined> | undefined
    const onFailure: Failure = () => (failureCheck ??= this.options.guard.readFailed())
    if (runs.length === 1) { await work(runs[0]!, onFailure); return }
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < runs.length) await work(runs[next++]!, onFailure)
    }
    await Promise.all(Array.from({ length: Math.min(MAX_PARALLEL_READS, runs.length) }, worker))
  }

  /** The piece's segments, or why it cannot be read at all. */
  private segmentsOf(addr: PhysAddr, length: number): RangeSegment[] | MemweaveError {
    const bad = this.checkPiece(addr, length, 'read')
    if (bad !== undefined) return bad
    const segments = this.options.map.segments(addr, length)
    const gap = this.options.strict ? segments.find((s) => s.backing === undefined) : undefined
    if (gap === undefined) return segments
    return new MemweaveError('connector', 'unmapped', `${this.options.name}: ${this.words.address} ${hex(gap.addr)} is ${this.words.gap} (strict mode; read of ${length} bytes at ${hex(addr)})`)
  }

  /** Queues a piece's extents; returns its result (a buffer to fill, a placeholder for a view, or a failure). */
  private planPiece(piece: ReadPiece<PhysAddr>, index: number, extents: Extent[]): PieceResult {
    if (piece.length === 0) {
      const bad = this.checkPiece(piece.addr, 0, 'read')
      return bad !== undefined ? { ok: false, error: bad } : { ok: true, data: EMPTY }
    }
    const segments = this.segmentsOf(piece.addr, piece.length)
    if (segments instanceof MemweaveError) return { ok: false, error: segments }
    const only = segments.length === 1 ? segments[0] : undefined
    if (only?.backing !== undefined && only.backing >= 0n) {
      const pos = Number(only.backing)
      extents.push({ pos, length: piece.length, piece: index, dest: -1, span: this.spanOf(pos) })
      return { ok: true, data: EMPTY } // replaced by a view of the run's buffer
    }
    let dest = 0
    for (const s of segments) {
      if (s.backing !== undefined && s.backing >= 0n) extents.push({ pos: Number(s.backing), length: s.length, piece: index, dest, span: this.spanOf(Number(s.backing)) })
      else this.stats.zeroFilledBytes += s.length
      dest += s.length
    }
    return { ok: true, data: new Uint8Array(piece.length) }
  }

  /** Queues a piece's extents with absolute target offsets, zero-filling its gaps in place. */
  private planPieceInto(piece: ReadIntoPiece<PhysAddr>, index: number, extents: Extent[], target: Uint8Array): ReadIntoResult {
    if (piece.length === 0) {
      const bad = this.checkPiece(piece.addr, 0, 'read')
      return bad !== undefined ? { ok: false, error: bad } : { ok: true, length: 0 }
    }
    const segments = this.segmentsOf(piece.addr, piece.length)
    if (segments instanceof MemweaveError) return { ok: false, error: segments }
    let dest = piece.at
    for (const s of segments) {
      if (s.backing !== undefined && s.backing >= 0n) extents.push({ pos: Number(s.backing), length: s.length, piece: index, dest, span: this.spanOf(Number(s.backing)) })
      else { target.fill(0, dest, dest + s.length); this.stats.zeroFilledBytes += s.length }
      dest += s.length
    }
    return { ok: true, length: piece.length }
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

  /** Reads one run into buffer; undefined when every byte arrived, else why not. */
  private async fillRun(run: ReadRun, buffer: Uint8Array): Promise<MemweaveError | undefined> {
    let done = 0
    try {
      while (done < run.length) {
        const n = await preadInto(this.options.fd, buffer, done, run.length - done, run.pos + done)
        this.stats.preads++
        this.stats.preadBytes += n
        if (n === 0) break
        done += n
      }
    } catch (err) {
      return toMemweaveError(err, 'connector', `${this.options.name}: read of ${run.length} bytes at position ${hex(run.pos)} failed`)
    }
    if (done < run.length) {
      return new MemweaveError('connector', 'io', `${this.options.name}: the source ended at position ${hex(run.pos + done)} while reading up to ${hex(run.pos + run.length)}`)
    }
    return undefined
  }

  private async readRun(run: ReadRun, results: PieceResult[], onFailure: Failure): Promise<void> {
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

  private async readRunInto(run: ReadRun, target: Uint8Array, results: ReadIntoResult[], onFailure: Failure): Promise<void> {
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

  private async writeBatch(pieces: readonly WritePiece<PhysAddr>[]): Promise<WriteResult[]> {
    this.stats.writes++
    if (!this.options.writable) {
      const error = new MemweaveError('connector', 'permission', `${this.options.name} is read-only (writes need a node started with writes allowed, and a writable source)`)
      return pieces.map(() => ({ ok: false, error }))
    }
    const blocked = await this.options.guard.blocked()
    if (blocked !== undefined) return pieces.map(() => ({ ok: false, error: blocked }))
    const writeAll = async (): Promise<WriteResult[]> => {
      const results: WriteResult[] = []
      for (const piece of pieces) results.push(await this.writePiece(piece))
      return results
    }
    return this.options.guard.ownWrite === undefined ? writeAll() : this.options.guard.ownWrite(writeAll)
  }

  private async writePiece(piece: WritePiece<PhysAddr>): Promise<WriteResult> {
    const bad = this.checkPiece(piece.addr, piece.data.length, 'write')
    if (bad !== undefined) return { ok: false, error: bad }
    const segments = piece.data.length === 0 ? [] : this.options.map.segments(piece.addr, piece.data.length)
    for (const s of segments) {
      if (s.backing === undefined) return { ok: false, error: new MemweaveError('connector', 'unmapped', `${this.options.name}: cannot write at ${hex(s.addr)}: ${this.words.gap}`) }
      if (s.backing < 0n) return { ok: false, error: new MemweaveError('connector', 'unsupported', `${this.options.name}: cannot write at ${hex(s.addr)}: the segment has no bytes in the file there (p_filesz < p_memsz)`) }
    }
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
    if (typeof addr !== 'bigint' || addr < 0n) return new MemweaveError('connector', 'invalid_argument', `${name}: bad ${verb} address ${String(addr)}`)
    const max = this.options.map.maxAddress
    if (addr + BigInt(length) > max) return new MemweaveError('connector', 'out_of_bounds', `${name}: ${verb} of ${length} bytes at ${hex(addr)} goes past the end of the ${this.words.address} space (${hex(max)})`)
    return undefined
  }
}

/** Writes all of data at position; a write that makes no progress fails instead of looping. */
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
