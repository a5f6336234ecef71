/**
 * The daemon's account of ring regions once reads may finish out of order:
 * with a mapped ring the source is read straight into regions taken before
 * the read, so a later region's reply can go out before an earlier one's.
 * The client still reports one mark, the end of the last piece it copied
 * out, and copies in the order replies arrive, which is the order they were
 * sent; so the mark frees everything sent up to that piece. The ring's tail
 * then moves to the oldest region taken and not yet freed (a region whose
 * read failed, or which went inline, is freed at once without being sent).
 *
 *   take ─▶ [taken, in taking order] ─ sent ─▶ [sent, in sending order] ─ mark ─▶ freed
 *              └─ dropped (failed, inline) ─────────────────────────────────────▶ freed
 */
import { RingSpace } from './data-ring.js'

export interface RingRegion {
  readonly position: number
  readonly length: number
  /** Where the client's mark lands once it has copied this region out (position + bytes sent). */
  sentEnd: number
  freed: boolean
}

export class RingLedger {
  private readonly taken: RingRegion[] = []
  private readonly sent: RingRegion[] = []

  constructor(readonly space: RingSpace) {}

  /** Takes one region; undefined when it does not fit now. */
  take(length: number): RingRegion | undefined {
    return this.takeAll([length])?.[0]
  }

  /** Takes a region per length, all or none; undefined when they do not fit now. */
  takeAll(lengths: readonly number[]): RingRegion[] | undefined {
    const start = this.space.mark()
    const regions: RingRegion[] = []
    for (const length of lengths) {
      const position = this.space.reserve(length)
      if (position === undefined) { this.space.rollback(start); return undefined }
      regions.push({ position, length, sentEnd: position, freed: false })
    }
    this.taken.push(...regions)
    return regions
  }

  /** The region goes to the client with `bytes` of it filled (1..length). */
  sending(region: RingRegion, bytes: number): void {
    region.sentEnd = (region.position + bytes) % this.space.epoch
    this.sent.push(region)
  }

  /** The region will never be sent (its read failed, it went inline, the reply was dropped). */
  drop(region: RingRegion): void {
    region.freed = true
    this.advance()
  }

  /** The client copied out everything sent up to the piece ending at `mark`; false for a mark that ends no piece in flight. */
  release(mark: number): boolean {
    const index = this.sent.findIndex((r) => r.sentEnd === mark)
    if (index < 0) return false
    for (const region of this.sent.splice(0, index + 1)) region.freed = true
    this.advance()
    return true
  }

  get inFlight(): number {
    return this.taken.length
  }

  private advance(): void {
    let moved = false
    while (this.taken[0]?.freed === true) { this.taken.shift(); moved = true }
    if (!moved) return
    const oldest = this.taken[0]
    const tail = oldest === undefined ? this.space.mark().head : oldest.position
    this.space.release(tail)
  }
}
