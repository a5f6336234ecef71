/**
 * The daemon-wide memory budget: bytes of reads in flight plus reply bytes
 * handed to sockets but not yet flushed, summed over every client. One
 * client's limits (server-limits.ts) bound what it can make the daemon hold;
 * this bounds what all of them together can.
 *
 *   client A ──read 8 MiB──▶ take(A, 8 MiB) ──granted──▶ tree.read ─▶ socket ─▶ flushed: release
 *   client B ──read 8 MiB──▶ take(B, 8 MiB) ──no room──▶ B's socket is paused (its requests
 *                                                        wait in the kernel), B queues here;
 *                                                        a release wakes waiters in order
 *
 * Fair sharing: no client may hold more than an equal share (budget / clients
 * holding or waiting, and never more than half, so one client alone leaves
 * room for the next). A client that holds nothing may always take a request
 * that fits in what is free, so every client makes progress. A slow reader
 * keeps only what it holds (its replies sit unflushed, counted) and gets
 * nothing more until it reads: backpressure stops reading its requests rather
 * than buffering replies. One that holds its share without reading while
 * others wait is cut off after `stallCutoffMs` (server.ts), which frees it.
 */
import { totalmem } from 'node:os'

/** Default budget: an eighth of RAM, at least 64 MiB and at most 4 GiB. */
export function defaultBudgetBytes(): number {
  return Math.min(4 * 2 ** 30, Math.max(64 * 2 ** 20, Math.floor(totalmem() / 8)))
}

interface Waiter {
  readonly owner: string
  readonly bytes: number
  readonly grant: () => void
}

export interface BudgetStats {
  readonly capacityBytes: number
  readonly usedBytes: number
  readonly peakBytes: number
  readonly holders: number
  readonly waiting: number
  /** Requests that had to wait for room. */
  readonly waits: number
}

export class DaemonBudget {
  private used = 0
  private peak = 0
  private waits = 0
  private readonly held = new Map<string, number>()
  private readonly waiters: Waiter[] = []

  constructor(readonly capacityBytes: number) {}

  /**
   * Takes bytes for owner now if its share and the free room allow; false means: call wait(). No overtaking a
   * client that waits for free room (small takes would starve it); one held back by its own share waits for its
   * own replies to flush, which a client that stopped reading never does, so others go past it.
   */
  tryTake(owner: string, bytes: number): boolean {
    if (this.waitingForRoomBesides(owner)) return false
    return this.takeIfFits(owner, bytes)
  }

  /** Queues a take; grant() runs once it is taken (in arrival order, as room frees). */
  wait(owner: string, bytes: number, grant: () => void): void {
    this.waits++
    this.waiters.push({ owner, bytes, grant })
  }

  /** Bytes owner holds without asking (a reply that has to go out whatever its size); released like any other. */
  force(owner: string, bytes: number): void {
    this.add(owner, bytes)
  }

  /** Gives bytes back; never more than owner holds (a reply flushed after its connection closed gives back nothing). */
  release(owner: string, bytes: number): void {
    const mine = this.held.get(owner) ?? 0
    const given = Math.min(mine, bytes)
    if (given <= 0) return
    if (mine - given > 0) this.held.set(owner, mine - given)
    else this.held.delete(owner)
    this.used -= given
    this.wake()
  }

  /** Forgets owner's waiters (its connection closed); what it holds is released by its own accounting. */
  dropWaiters(owner: string): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) if (this.waiters[i]?.owner === owner) this.waiters.splice(i, 1)
    this.wake()
  }

  /** Someone is waiting for room (the server then looks for stalled holders to cut off). */
  get contended(): boolean {
    return this.waiters.length > 0
  }

  /**
   * Someone other than owner waits for free room: only then is owner, holding budget without reading, in anyone's
   * way. A client held back by its own share waits for its own replies to flush, which no cut-off elsewhere helps.
   */
  waitingForRoomBesides(owner: string): boolean {
    return this.waiters.some((w) => w.owner !== owner && this.withinShare(w.owner, w.bytes))
  }

  heldBy(owner: string): number {
    return this.held.get(owner) ?? 0
  }

  get stats(): BudgetStats {
    return { capacityBytes: this.capacityBytes, usedBytes: this.used, peakBytes: this.peak, holders: this.held.size, waiting: this.waiters.length, waits: this.waits }
  }

  private takeIfFits(owner: string, bytes: number): boolean {
    if (this.used + bytes > this.capacityBytes || !this.withinShare(owner, bytes)) return false
    this.add(owner, bytes)
    return true
  }

  /** Whether owner's share allows it bytes more (one holding nothing may always take what fits). */
  private withinShare(owner: string, bytes: number): boolean {
    const mine = this.held.get(owner) ?? 0
    return mine === 0 || mine + bytes <= this.share(owner)
  }

  /** An equal split between the clients holding or waiting (owner included). */
  private share(owner: string): number {
    const contenders = new Set(this.held.keys())
    for (const w of this.waiters) contenders.add(w.owner)
    contenders.add(owner)
    return Math.floor(this.capacityBytes / Math.max(2, contenders.size))
  }

  private add(owner: string, bytes: number): void {
    this.held.set(owner, (this.held.get(owner) ?? 0) + bytes)
    this.used += bytes
    if (this.used > this.peak) this.peak = this.used
  }

  /** Grants waiters in order; one that does not fit yet is skipped so a smaller or poorer client behind it can go. */
  private wake(): void {
    for (let i = 0; i < this.waiters.length;) {
      const w = this.waiters[i]
      if (w !== undefined && this.takeIfFits(w.owner, w.bytes)) {
        this.waiters.splice(i, 1)
        w.grant()
      } else {
        i++
      }
    }
  }
}
