/**
 * Lifetimes tell whether the object behind a handle still exists. Each one
 * may have a parent (a process lives inside an OS, which lives on a
 * connector) and an optional check (file replaced? process exited?). A
 * lifetime is stale when it was ended, its check says so, or any parent is.
 */
import { MemweaveError } from '../errors/index.js'

export type StaleCheck = () => Promise<string | undefined> | string | undefined

export class Lifetime {
  private endedReason: string | undefined
  private readonly listeners = new Set<(reason: string) => void>()

  constructor(
    readonly description: string,
    readonly parent?: Lifetime,
    private readonly check?: StaleCheck,
  ) {
    parent?.onEnd((reason) => this.end(reason))
  }

  /** Marks this lifetime (and every child) as ended. */
  end(reason: string): void {
    if (this.endedReason !== undefined) return
    this.endedReason = reason
    // onEnd() from a listener runs at once (endedReason is set), so nothing is added while this
    // loop runs; a listener that an earlier one removed is not called (Set iteration skips it).
    for (const listener of this.listeners) listener(reason)
    this.listeners.clear()
  }

  get ended(): boolean {
    return this.endedReason !== undefined
  }

  onEnd(listener: (reason: string) => void): () => void {
    if (this.endedReason !== undefined) { listener(this.endedReason); return () => {} }
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** Runs the checks up the chain; ends this lifetime if one reports a change. Returns the reason or undefined. */
  async staleReason(): Promise<string | undefined> {
    if (this.endedReason !== undefined) return this.endedReason
    const parentReason = await this.parent?.staleReason()
    if (parentReason !== undefined) { this.end(parentReason); return parentReason }
    const reason = await this.check?.()
    if (reason !== undefined) this.end(reason)
    return reason
  }

  /** Throws a 'stale' error naming the object when it no longer exists. */
  async ensureAlive(origin: 'tree' | 'connector' | 'os' = 'tree'): Promise<void> {
    const reason = await this.staleReason()
    if (reason !== undefined) {
      throw new MemweaveError(origin, 'stale', `stale handle: ${this.description} ${reason}`)
    }
  }
}

/** A lifetime that never ends, for static parts of the tree. */
export const FOREVER_LIFETIME = new Lifetime('memweave tree')
