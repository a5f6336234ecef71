/**
 * Coalesces concurrent reads of one remote handle into one wire request:
 * reads issued in the same turn (many pipelined callers, or one caller's
 * batch split by layers above) travel as one batch, one round trip per hop.
 * Each caller still gets exactly its own results, in its own order; a
 * failed piece stays that piece's error.
 */
import type { PieceResult, ReadPiece } from '../../mem/index.js'

interface Waiting {
  readonly pieces: readonly ReadPiece[]
  readonly resolve: (results: PieceResult[]) => void
  readonly reject: (error: unknown) => void
}

/**
 * A merged request stops growing past these (the client splits further to the peer's own limits).
 * The byte cap is small on purpose: several big reads in flight are forwarded as separate requests,
 * so each one's reply streams on to the next hop as soon as it is in, instead of all of them
 * waiting for the largest (pipelining across hops); small reads still travel together.
 */
const MAX_MERGED_PIECES = 4096
const MAX_MERGED_BYTES = 1024 * 1024

export class ReadBatcher {
  private waiting: Waiting[] = []
  private scheduled = false

  constructor(private readonly send: (pieces: readonly ReadPiece[]) => Promise<PieceResult[]>) {}

  read(pieces: readonly ReadPiece[]): Promise<PieceResult[]> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ pieces, resolve, reject })
      if (this.scheduled) return
      this.scheduled = true
      // A microtask, not a timer: callers woken together (replies to one batch) all get in before it runs.
      queueMicrotask(() => this.flush())
    })
  }

  private flush(): void {
    const waiting = this.waiting
    this.waiting = []
    this.scheduled = false
    let group: Waiting[] = []
    let pieces = 0
    let bytes = 0
    for (const call of waiting) {
      const callBytes = call.pieces.reduce((sum, p) => sum + p.length, 0)
      if (group.length > 0 && (pieces + call.pieces.length > MAX_MERGED_PIECES || bytes + callBytes > MAX_MERGED_BYTES)) {
        this.sendGroup(group)
        group = []
        pieces = 0
        bytes = 0
      }
      group.push(call)
      pieces += call.pieces.length
      bytes += callBytes
    }
    if (group.length > 0) this.sendGroup(group)
  }

  private sendGroup(group: readonly Waiting[]): void {
    const only = group.length === 1 ? group[0] : undefined
    if (only !== undefined) { this.send(only.pieces).then(only.resolve, only.reject); return }
    const merged = group.flatMap((call) => call.pieces)
    this.send(merged).then((results) => {
      let offset = 0
      for (const call of group) {
        call.resolve(results.slice(offset, offset + call.pieces.length))
        offset += call.pieces.length
      }
    }, (err: unknown) => { for (const call of group) call.reject(err) })
  }
}
