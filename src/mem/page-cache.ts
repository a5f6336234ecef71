/**
 * Page cache middleware: keeps recently read pages of any memory view in a
 * bounded LRU. When a page expires is a separate strategy (CacheValidity),
 * so dumps can keep pages forever and live sources only briefly. Writes go
 * through and drop the pages they touch.
 */
import { LruMap } from './lru-map.js'
import type { MemMetadata, MemoryView, PieceResult, ReadIntoPiece, ReadIntoResult, ReadPiece, WritePiece, WriteResult } from './memory-view.js'
import { copyResults, readInto } from './read-into.js'

export interface CacheValidity {
  /** A stamp stored with a page when it is filled. */
  stamp(): number
  isValid(stamp: number): boolean
}

/** Pages never expire: for memory that cannot change (a dump). */
export const FOREVER: CacheValidity = { stamp: () => 0, isValid: () => true }

/** Pages expire after a fixed time: for live memory. */
export function timedValidity(validMs: number): CacheValidity {
  return {
    stamp: () => performance.now(),
    isValid: (stamp) => performance.now() - stamp < validMs,
  }
}

export interface PageCacheOptions {
  pageSize?: number
  maxPages?: number
  validity?: CacheValidity
  /** Pieces larger than this bypass the cache (bulk reads would only evict). */
  maxCachedPieceBytes?: number
}

export class PageCache<A extends bigint> implements MemoryView<A> {
  /** Keyed by page number: below 2^52 for any 64-bit address, so a safe integer. */
  private readonly pages: LruMap<Uint8Array>
  private readonly pageSize: number
  private readonly pageSizeBig: bigint
  private readonly maxCachedPieceBytes: number
  hits = 0
  misses = 0

  constructor(readonly inner: MemoryView<A>, options: PageCacheOptions = {}) {
    this.pageSize = options.pageSize ?? 4096
    this.pageSizeBig = BigInt(this.pageSize)
    this.pages = new LruMap(options.maxPages ?? 4096, options.validity ?? FOREVER)
    this.maxCachedPieceBytes = options.maxCachedPieceBytes ?? 4 * this.pageSize
  }

  async read(pieces: readonly ReadPiece<A>[]): Promise<PieceResult[]> {
    const results = pieces.map((): PieceResult | undefined => undefined)
    const missing = new Map<bigint, number[]>() // page -> piece indexes waiting for it
    // Every page this batch uses, held here: a big batch may evict its own pages before assembly.
    const batchPages = new Map<bigint, Uint8Array>()
    const bypass: number[] = []
    pieces.forEach((piece, index) => {
      // Big pieces would only evict; empty ones touch no page and the source decides their fate.
      if (piece.length > this.maxCachedPieceBytes || piece.length === 0) { bypass.push(index); return }
      const first = piece.addr / this.pageSizeBig
      const last = (piece.addr + BigInt(piece.length) - 1n) / this.pageSizeBig
      for (let page = first; page <= last; page++) {
        if (batchPages.has(page)) continue
        const cached = this.lookup(page)
        if (cached !== undefined) batchPages.set(page, cached)
        else {
          const waiting = missing.get(page)
          if (waiting === undefined) missing.set(page, [index])
          else waiting.push(index)
        }
      }
    })
    const failed = new Set<number>()
    const pageList = [...missing.keys()]
    const [pageResults, bypassResults] = await Promise.all([
      pageList.length > 0 ? this.inner.read(pageList.map((page) => ({ addr: (page * this.pageSizeBig) as A, length: this.pageSize }))) : Promise.resolve([]),
      bypass.length > 0 ? this.inner.read(bypass.map((i) => pieces[i]!)) : Promise.resolve([]),
    ])
    pageList.forEach((page, i) => {
      const r = pageResults[i]
      if (r?.ok) { this.store(page, r.data); batchPages.set(page, r.data) }
      else for (const index of missing.get(page) ?? []) failed.add(index)
    })
    bypass.forEach((index, i) => { results[index] = bypassResults[i] })
    this.misses += pageList.length
    this.hits += batchPages.size - pageList.length
    // A whole page can fail where the piece itself is readable (a partial last page, a gap
    // beside a strict range): those pieces are asked of the source as they are.
    const retry = [...failed]
    const retried = retry.length > 0 ? await this.inner.read(retry.map((i) => pieces[i]!)) : []
    retry.forEach((index, i) => { results[index] = retried[i] })
    pieces.forEach((piece, index) => {
      if (results[index] === undefined) results[index] = { ok: true, data: this.assemble(piece, batchPages) }
    })
    return results as PieceResult[]
  }

  /** Big pieces go straight from the source into the target; small ones through the cache and one copy. */
  async readInto(pieces: readonly ReadIntoPiece<A>[], target: Uint8Array): Promise<ReadIntoResult[]> {
    const isBig = (piece: ReadIntoPiece<A>): boolean => piece.length > this.maxCachedPieceBytes || piece.length === 0
    const big = pieces.filter(isBig)
    const small = pieces.filter((piece) => !isBig(piece))
    const [bigResults, smallResults] = await Promise.all([
      big.length > 0 ? readInto(this.inner, big, target) : Promise.resolve([]),
      small.length > 0 ? this.read(small).then((r) => copyResults(r, small, target)) : Promise.resolve([]),
    ])
    // Both lists keep the batch's order: take from each in turn.
    let nextBig = 0
    let nextSmall = 0
    return pieces.map((piece) => (isBig(piece) ? bigResults[nextBig++]! : smallResults[nextSmall++]!))
  }

  private lookup(page: bigint): Uint8Array | undefined {
    return this.pages.get(Number(page))
  }

  private store(page: bigint, data: Uint8Array): void {
    this.pages.set(Number(page), data)
  }

  /** Builds a piece from the batch's pages. */
  private assemble(piece: ReadPiece<A>, pages: Map<bigint, Uint8Array>): Uint8Array {
    const out = new Uint8Array(piece.length)
    let done = 0
    while (done < piece.length) {
      const addr = piece.addr + BigInt(done)
      const page = addr / this.pageSizeBig
      const offset = Number(addr - page * this.pageSizeBig)
      const n = Math.min(this.pageSize - offset, piece.length - done)
      const data = pages.get(page)
      if (data !== undefined) out.set(data.subarray(offset, offset + n), done)
      done += n
    }
    return out
  }

  async write(pieces: readonly WritePiece<A>[]): Promise<WriteResult[]> {
    for (const piece of pieces) {
      const first = piece.addr / this.pageSizeBig
      const last = (piece.addr + BigInt(Math.max(piece.data.length, 1)) - 1n) / this.pageSizeBig
      for (let page = first; page <= last; page++) this.pages.delete(Number(page))
    }
    return this.inner.write(pieces)
  }

  invalidate(): void {
    this.pages.clear()
  }

  metadata(): MemMetadata {
    return this.inner.metadata()
  }
}
