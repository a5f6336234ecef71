/**
 * A protocol client's requests on their way: what each waits for (Pending),
 * and the ones that timed out (AbandonedRequests), kept so that a late reply
 * can still give back what it took (a handle, a watch) or have its data
 * channel bytes skipped. The most recent MAX_ABANDONED are kept.
 */
import type { MemweaveError } from '../errors/index.js'
import type { Op } from './messages.js'

const MAX_ABANDONED = 4096

export interface Pending {
  readonly op: Op
  readonly resolve: (value: unknown) => void
  readonly reject: (error: MemweaveError) => void
  readonly onResult: ((value: unknown) => void) | undefined
  /** readInto: where each piece of the reply goes (ring pieces are copied there directly). */
  readonly into: ((index: number) => Uint8Array | undefined) | undefined
  timer: NodeJS.Timeout | undefined
  /** Set while waiting for an in-flight slot; cleared once sent. */
  start: (() => void) | undefined
  /** A read sent to the data channel: each piece's requested length. */
  readonly lengths: readonly number[] | undefined
  /** Its reply is being written into `into` right now, from the data channel. */
  receiving: boolean
}

export class AbandonedRequests {
  private readonly byId = new Map<number, Pending>()

  add(id: number, pending: Pending): void {
    this.byId.set(id, pending)
    if (this.byId.size > MAX_ABANDONED) this.byId.delete(this.byId.keys().next().value ?? id)
  }

  get(id: number): Pending | undefined {
    return this.byId.get(id)
  }

  /** The request `id` answers, forgotten now that its reply came. */
  take(id: number): Pending | undefined {
    const pending = this.byId.get(id)
    if (pending !== undefined) this.byId.delete(id)
    return pending
  }

  clear(): void {
    this.byId.clear()
  }
}
