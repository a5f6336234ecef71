/**
 * A virtual address space as a MemoryView<VirtAddr>: pieces are cut at page
 * boundaries, every page of the whole batch is translated in one batch, and
 * the physical fragments (contiguous ones coalesced) go to the physical
 * memory in one read or write. A piece touching a page that does not
 * translate fails alone, naming its first unmapped address. readInto sends
 * the fragments to the physical memory's readInto at their places in the
 * caller's target, so a virtual bulk read is copied once too.
 */
import { MemweaveError } from '../errors/index.js'
import { hex, MAX_PIECE_BYTES, physAddr, readInto } from '../mem/index.js'
import type { MemMetadata, PhysAddr, PhysicalMemory, PieceResult, ReadIntoPiece, ReadIntoResult, ReadPiece, VirtAddr, VirtualMemory, WritePiece, WriteResult } from '../mem/index.js'
import { groupPages } from './page-grouping.js'
import { WalkFailure } from './page-walk.js'
import { addressSpaceBytes, halfBits, isCanonical, nonCanonicalError } from './paging-mode.js'
import type { PagingMode } from './paging-mode.js'
import { PageTableCache, TranslationCache, validityFor } from './table-cache.js'
import type { CacheStats } from './table-cache.js'
import { PageTranslator } from './translator.js'
import type { Translation } from './translator.js'
import { walkMappings } from './walk-mappings.js'
import type { MappingWalk, VirtualRange, WalkMappingsOptions } from './walk-mappings.js'

export interface VirtualAddressSpaceOptions {
  /**
   * Whole table pages. Pass one cache to every address space of the same
   * memory to share kernel tables; false for none. Default: a new one with
   * validity chosen from the memory's metadata (forever for dumps).
   */
  tableCache?: PageTableCache | false
  /** This space's TLB; false for none. Default: a new one, same validity. */
  translationCache?: TranslationCache | false
  /** Split-root modes (AArch64): the TTBR1 root the upper half is translated from. Default: dtb. */
  upperDtb?: PhysAddr
}

/** One physically contiguous part of a piece. */
interface Fragment {
  readonly phys: number
  length: number
  /** Where the fragment starts inside its piece. */
  readonly pieceOffset: number
}

type PiecePlan = { readonly ok: true; readonly fragments: Fragment[] } | { readonly ok: false; readonly error: MemweaveError }

const TWO_64 = 1n << 64n

export class VirtualAddressSpace implements VirtualMemory {
  readonly translator: PageTranslator
  readonly tableCache: PageTableCache | undefined
  readonly translationCache: TranslationCache | undefined
  readonly upperDtb: PhysAddr | undefined
  private readonly pageBytes: number
  private readonly shift: bigint
  private readonly half: bigint

  constructor(readonly mem: PhysicalMemory, readonly dtb: PhysAddr, readonly mode: PagingMode, options: VirtualAddressSpaceOptions = {}) {
    const validity = validityFor(mem.metadata())
    this.tableCache = options.tableCache === false ? undefined : options.tableCache ?? new PageTableCache({ validity })
    this.translationCache = options.translationCache === false ? undefined : options.translationCache ?? new TranslationCache({ validity })
    this.upperDtb = options.upperDtb
    this.translator = new PageTranslator(mem, dtb, mode, { tableCache: this.tableCache, translationCache: this.translationCache, upperDtb: options.upperDtb })
    this.pageBytes = this.translator.compiled.pageBytes
    this.shift = BigInt(this.translator.compiled.pageShift)
    this.half = 1n << BigInt(halfBits(mode))
  }

  translate(virts: readonly VirtAddr[]): Promise<Translation[]> {
    return this.translator.translate(virts)
  }

  /** Enumerates this space's mappings (see walkMappings); uses the shared table cache unless one is given. */
  mappings(range?: VirtualRange, options: WalkMappingsOptions = {}): Promise<MappingWalk> {
    return walkMappings(this.mem, this.dtb, this.mode, range, { tableCache: this.tableCache, upperDtb: this.upperDtb, ...options })
  }

  /** Forgets cached tables and translations (call when a live target changed its mappings). */
  invalidate(): void {
    this.tableCache?.invalidate()
    this.translationCache?.invalidate()
  }

  cacheStats(): { tables: CacheStats | undefined; translations: CacheStats | undefined } {
    return { tables: this.tableCache?.stats(), translations: this.translationCache?.stats() }
  }

  metadata(): MemMetadata {
    const inner = this.mem.metadata()
    return { maxAddress: addressSpaceBytes(this.mode), idealBatchSize: inner.idealBatchSize, readonly: inner.readonly, volatile: inner.volatile }
  }

  async read(pieces: readonly ReadPiece<VirtAddr>[]): Promise<PieceResult[]> {
    const plans = await this.plan(pieces)
    const phys: ReadPiece<PhysAddr>[] = []
    for (const plan of plans) if (plan.ok) for (const f of plan.fragments) phys.push({ addr: physAddr(f.phys), length: f.length })
    const results = phys.length > 0 ? await this.mem.read(phys) : []
    let k = 0
    return plans.map((plan, i): PieceResult => {
      if (!plan.ok) return plan
      const piece = pieces[i]!
      const { fragments } = plan
      const first = results[k]
      if (fragments.length === 1 && first !== undefined && first.ok && first.data.length === piece.length) { k++; return first }
      const out = new Uint8Array(piece.length)
      let failure: MemweaveError | undefined
      for (const f of fragments) {
        const r = results[k++]
        if (failure !== undefined) continue
        if (r !== undefined && r.ok && r.data.length >= f.length) out.set(r.data.subarray(0, f.length), f.pieceOffset)
        else failure = this.fragmentError('read', piece.addr, f, r)
      }
      return failure === undefined ? { ok: true, data: out } : { ok: false, error: failure }
    })
  }

  async readInto(pieces: readonly ReadIntoPiece<VirtAddr>[], target: Uint8Array): Promise<ReadIntoResult[]> {
    const plans = await this.plan(pieces)
    const phys: ReadIntoPiece<PhysAddr>[] = []
    plans.forEach((plan, i) => {
      if (plan.ok) for (const f of plan.fragments) phys.push({ addr: physAddr(f.phys), length: f.length, at: pieces[i]!.at + f.pieceOffset })
    })
    const results = phys.length > 0 ? await readInto(this.mem, phys, target) : []
    let k = 0
    return plans.map((plan, i): ReadIntoResult => {
      if (!plan.ok) return plan
      let failure: MemweaveError | undefined
      for (const f of plan.fragments) {
        const r = results[k++]
        if (failure === undefined && (r === undefined || !r.ok || r.length < f.length)) {
          failure = this.fragmentError('read', pieces[i]!.addr, f, r === undefined || !r.ok ? r : { ok: true, data: new Uint8Array(0) })
        }
      }
      return failure === undefined ? { ok: true, length: pieces[i]!.length } : { ok: false, error: failure }
    })
  }

  async write(pieces: readonly WritePiece<VirtAddr>[]): Promise<WriteResult[]> {
    if (this.mem.metadata().readonly) {
      return pieces.map(() => ({ ok: false, error: new MemweaveError('arch', 'permission', 'address space is read-only: its physical memory is read-only') }))
    }
    const plans = await this.plan(pieces.map((p) => ({ addr: p.addr, length: p.data.length })))
    const phys: WritePiece<PhysAddr>[] = []
    plans.forEach((plan, i) => {
      if (!plan.ok) return
      const data = pieces[i]!.data
      for (const f of plan.fragments) phys.push({ addr: physAddr(f.phys), data: data.subarray(f.pieceOffset, f.pieceOffset + f.length) })
    })
    const results = phys.length > 0 ? await this.mem.write(phys) : []
    let k = 0
    let tablesTouched = 0
    const out = plans.map((plan, i): WriteResult => {
      if (!plan.ok) return plan
      let failure: MemweaveError | undefined
      for (const f of plan.fragments) {
        const r = results[k++]
        if (r === undefined || !r.ok) { failure ??= this.fragmentError('write', pieces[i]!.addr, f, r); continue }
        this.tableCache?.invalidateRange(f.phys, f.length)
        if (this.translator.touchesTables(f.phys, f.length)) tablesTouched++
      }
      return failure === undefined ? { ok: true } : { ok: false, error: failure }
    })
    // A write into a page table changes translations: drop this space's TLB
    // (other spaces sharing the table cache keep theirs until they expire).
    if (tablesTouched > 0) this.translationCache?.invalidate()
    return out
  }

  private fragmentError(op: 'read' | 'write', pieceAddr: bigint, f: Fragment, r: PieceResult | WriteResult | undefined): MemweaveError {
    const where = `cannot ${op} virtual ${hex(pieceAddr + BigInt(f.pieceOffset))} (physical ${hex(f.phys)}, ${f.length} bytes)`
    if (r === undefined) return new MemweaveError('arch', 'internal', `${where}: no result from physical memory`)
    if (!r.ok) return new MemweaveError('arch', r.error.kind, `${where}: ${r.error.message}`, { cause: r.error })
    return new MemweaveError('arch', 'io', `${where}: short read`)
  }

  /** The first address of [start, start+length) outside the canonical halves, if any. */
  private firstNonCanonical(start: bigint, length: number): bigint | undefined {
    if (!isCanonical(this.mode, start)) return start
    const last = start + BigInt(length - 1)
    if (start < this.half) return last < this.half ? undefined : this.half
    return last < TWO_64 ? undefined : TWO_64
  }

  /** Validates pieces, translates every page of the batch at once, and cuts pieces into physical fragments. */
  private async plan(pieces: readonly { readonly addr: VirtAddr; readonly length: number }[]): Promise<PiecePlan[]> {
    // oxlint-disable-next-line unicorn/no-new-array -- n is a number (typed); filled out of order on the translation path, where Array.from is 10-20x slower
    const plans = new Array<PiecePlan | undefined>(pieces.length)
    const firstVpn = new Float64Array(pieces.length)
    const pageCount = new Float64Array(pieces.length)
    let totalPages = 0
    pieces.forEach((piece, i) => {
      const { addr, length } = piece
      let error: MemweaveError | undefined
      if (!Number.isSafeInteger(length) || length < 0) error = new MemweaveError('arch', 'invalid_argument', `piece at ${hex(addr)} has invalid length ${length}`)
      else if (length > MAX_PIECE_BYTES) error = new MemweaveError('arch', 'too_large', `piece at ${hex(addr)} is ${length} bytes; the limit is ${MAX_PIECE_BYTES}`)
      else if (length === 0) { plans[i] = { ok: true, fragments: [] }; return }
      else {
        const bad = this.firstNonCanonical(addr, length)
        if (bad !== undefined) error = nonCanonicalError(this.mode, bad)
      }
      if (error !== undefined) { plans[i] = { ok: false, error }; return }
      firstVpn[i] = Number(addr >> this.shift)
      pageCount[i] = Math.floor((this.pageOffset(addr) + length - 1) / this.pageBytes) + 1
      totalPages += pageCount[i]!
    })
    // Every page of every piece, in piece order; grouped once for the whole batch.
    const pageVpns = new Float64Array(totalPages)
    let at = 0
    pieces.forEach((_, i) => { if (plans[i] === undefined) for (let p = 0; p < pageCount[i]!; p++) pageVpns[at++] = firstVpn[i]! + p })
    const { distinct, slotOf } = groupPages(pageVpns, this.translator.halfVpn, 2 ** (64 - this.translator.compiled.pageShift))
    const outcomes = distinct.length > 0 ? await this.translator.translatePages(distinct) : []
    at = 0
    return pieces.map((piece, i): PiecePlan => {
      const early = plans[i]
      if (early !== undefined) return early
      const fragments: Fragment[] = []
      let failure: MemweaveError | undefined
      let done = 0
      let offset = this.pageOffset(piece.addr)
      for (let p = 0; p < pageCount[i]!; p++) {
        const outcome = outcomes[slotOf[at++]!]!
        if (failure !== undefined) continue // keep the cursor in step with the page list
        if (outcome instanceof WalkFailure) {
          failure = outcome.toError(done === 0 ? piece.addr : BigInt(firstVpn[i]! + p) << this.shift)
          continue
        }
        const length = Math.min(this.pageBytes - offset, piece.length - done)
        const phys = outcome.physPage + offset
        const last = fragments[fragments.length - 1]
        if (last !== undefined && last.phys + last.length === phys) last.length += length
        else fragments.push({ phys, length, pieceOffset: done })
        done += length
        offset = 0
      }
      return failure === undefined ? { ok: true, fragments } : { ok: false, error: failure }
    })
  }

  private pageOffset(addr: bigint): number {
    return Number(addr & BigInt(this.pageBytes - 1))
  }
}
