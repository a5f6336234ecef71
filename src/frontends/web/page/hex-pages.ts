/**
 * The hex view's memory: page-aligned reads in one batch per screen (each
 * page its own piece, so an unmapped page fails alone and shows as `??`,
 * never as zeros), a bounded page cache, and re-reads for live mode that
 * report which bytes changed.
 */
import type { PageClient } from './protocol.js'

export const PAGE_BYTES = 4096
const PAGE_MASK = BigInt(PAGE_BYTES - 1)
/** Pages kept (about 2 MiB); the oldest are dropped past it. */
const MAX_PAGES = 512

/** What a load did: `read`, whether it asked the daemon; `sentAt`, when the read(s) its screen waited for went out. */
export interface Loaded { readonly read: boolean; readonly changed: boolean; readonly staleReason?: string; readonly sentAt?: number }

/** A page as read (its data, or why it could not be), and when its read was sent and answered (performance.now()). */
export type PageState = ({ readonly data: Uint8Array } | { readonly error: string }) & { readonly sentAt?: number; readonly answeredAt?: number }

export function pageOf(addr: bigint): bigint {
  return addr & ~PAGE_MASK
}

export class HexPages {
  private readonly pages = new Map<bigint, PageState>()
  /** Pages being read now, with the read that brings them and when it was sent. */
  private readonly pending = new Map<bigint, { reading: Promise<Loaded>; sentAt: number }>()
  /** Addresses whose byte changed on a re-read, with when (ms). */
  readonly changedAt = new Map<bigint, number>()
  reads = 0
  bytesRead = 0

  constructor(private readonly client: PageClient, readonly handle: number, readonly sizeBytes: bigint) {}

  /** The byte at addr: a number, or undefined while not read, or null when its page is unmapped. */
  byte(addr: bigint): number | null | undefined {
    const page = this.pages.get(pageOf(addr))
    if (page === undefined) return undefined
    if ('error' in page) return null
    return page.data[Number(addr - pageOf(addr))] ?? null
  }

  page(addr: bigint): PageState | undefined {
    return this.pages.get(pageOf(addr))
  }

  /** Pages covering [start, end), each page's start. */
  pagesFor(start: bigint, end: bigint): bigint[] {
    const out: bigint[] = []
    const last = end > this.sizeBytes ? this.sizeBytes : end
    for (let p = pageOf(start); p < last; p += BigInt(PAGE_BYTES)) out.push(p)
    return out
  }

  /**
   * Reads the pages of [start, end) not held yet (or all of them with `again`); `read`: whether it asked the
   * daemon. Pages already being read are waited for, not asked again (a go-to reads its screen before the view
   * has rendered it, and the render's own load then finds the read under way).
   */
  async load(start: bigint, end: bigint, again = false): Promise<Loaded> {
    const covered = this.pagesFor(start, end)
    const waiting = again ? [] : [...new Set(covered.flatMap((p) => { const pending = this.pending.get(p); return pending === undefined ? [] : [pending] }))]
    const wanted = covered.filter((p) => again || (!this.pages.has(p) && !this.pending.has(p)))
    const sentAt = performance.now()
    const mine = wanted.length === 0 ? undefined : { reading: this.readPages(wanted, again, sentAt), sentAt }
    if (mine !== undefined) for (const page of wanted) this.pending.set(page, mine)
    try {
      const all = [...(mine === undefined ? [] : [mine]), ...waiting]
      const results = await Promise.all(all.map((p) => p.reading))
      const firstSent = all.length === 0 ? undefined : Math.min(...all.map((p) => p.sentAt))
      return { read: mine !== undefined, changed: results.some((r) => r.changed), ...staleOf(results), ...(firstSent === undefined ? {} : { sentAt: firstSent }) }
    } finally {
      if (mine !== undefined) for (const page of wanted) if (this.pending.get(page) === mine) this.pending.delete(page)
    }
  }

  private async readPages(wanted: readonly bigint[], again: boolean, sentAt: number): Promise<Loaded> {
    const results = await this.client.read(this.handle, wanted.map((addr) => ({ addr, length: PAGE_BYTES })))
    this.reads++
    const now = performance.now()
    const when = { sentAt, answeredAt: now }
    let changed = false
    let staleReason: string | undefined
    results.forEach((result, i) => {
      const addr = wanted[i]
      if (addr === undefined) return
      const before = this.pages.get(addr)
      const next: PageState = result.ok && result.data.length > 0 ? { data: result.data, ...when } : { error: result.ok ? 'end of the address space' : result.error.message, ...when }
      if (!result.ok && /stale/i.test(result.error.message)) staleReason = result.error.message
      if (result.ok) this.bytesRead += result.data.length
      if (before !== undefined && again) this.diff(addr, before, next, now)
      if (before === undefined || !samePage(before, next)) changed = true
      this.pages.delete(addr)
      this.pages.set(addr, next)
    })
    while (this.pages.size > MAX_PAGES) {
      const oldest = this.pages.keys().next().value
      if (oldest === undefined) break
      this.pages.delete(oldest)
    }
    return staleReason === undefined ? { read: true, changed } : { read: true, changed, staleReason }
  }

  clear(): void {
    this.pages.clear()
    this.changedAt.clear()
  }

  private diff(addr: bigint, before: PageState, next: PageState, now: number): void {
    if (!('data' in before) || !('data' in next)) return
    const n = Math.min(before.data.length, next.data.length)
    for (let i = 0; i < n; i++) if (before.data[i] !== next.data[i]) this.changedAt.set(addr + BigInt(i), now)
  }
}

function staleOf(results: ReadonlyArray<{ staleReason?: string }>): { staleReason?: string } {
  const reason = results.find((r) => r.staleReason !== undefined)?.staleReason
  return reason === undefined ? {} : { staleReason: reason }
}

function samePage(a: PageState, b: PageState): boolean {
  if ('error' in a || 'error' in b) return 'error' in a && 'error' in b
  if (a.data.length !== b.data.length) return false
  for (let i = 0; i < a.data.length; i++) if (a.data[i] !== b.data[i]) return false
  return true
}
