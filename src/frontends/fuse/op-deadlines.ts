/**
 * Deadlines of FUSE operations without a timer per operation: every
 * request used to arm and clear its own setTimeout (a timer-list insert and
 * removal on the hot path of every 4 KiB read). Here an operation is one
 * Set entry, and one interval sweeps the set a few times per timeout, so an
 * operation fails at most a sweep (an eighth of the timeout, 1 s at most)
 * after its deadline. The interval stops once nothing is pending at a sweep.
 */

export interface Deadline {
  readonly at: number
  readonly expire: () => void
}

export class OpDeadlines {
  private readonly pending = new Set<Deadline>()
  private timer: NodeJS.Timeout | undefined
  readonly sweepMs: number

  constructor(readonly timeoutMs: number) {
    this.sweepMs = Math.max(5, Math.min(1000, Math.floor(timeoutMs / 8)))
  }

  /** Starts timing an operation; `expire` runs once if it is still pending after timeoutMs. */
  add(expire: () => void): Deadline {
    const deadline: Deadline = { at: performance.now() + this.timeoutMs, expire }
    this.pending.add(deadline)
    if (this.timer === undefined) {
      // Not unref'd, as a per-request timer was not: a pending operation keeps the process up until it is answered.
      this.timer = setInterval(() => this.sweep(), this.sweepMs)
    }
    return deadline
  }

  /** The operation finished (or failed): it no longer expires. */
  done(deadline: Deadline): void {
    this.pending.delete(deadline)
  }

  get size(): number {
    return this.pending.size
  }

  /** Stops the sweeps (at unmount); pending operations no longer expire. */
  close(): void {
    clearInterval(this.timer)
    this.timer = undefined
    this.pending.clear()
  }

  private sweep(): void {
    if (this.pending.size === 0) { this.close(); return }
    const now = performance.now()
    for (const deadline of this.pending) {
      if (deadline.at > now) continue
      this.pending.delete(deadline)
      deadline.expire()
    }
  }
}
