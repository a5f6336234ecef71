/**
 * The handles of one connection, as the connection sees them: the cap on how
 * many one client may hold, the stale notices it asked for (a process exits, a
 * peer is lost: told once per handle), and releasing them all when it closes.
 * The handles themselves live in the tree's handle table, owned by the
 * connection's owner id.
 */
import type { Logger } from 'pino'
import { MemweaveError } from '../errors/index.js'
import type { Tree } from '../tree/index.js'

export class ConnectionHandles {
  /** Handles whose going stale this client is told of, and how to stop listening. */
  private readonly staleWatches = new Map<number, () => void>()

  constructor(
    private readonly tree: Tree,
    private readonly owner: string,
    private readonly maxHandles: number,
    private readonly log: Logger,
    /** Tells the client a handle went stale (when it can still be told). */
    private readonly tellStale: (handle: number, reason: string) => void,
  ) {}

  /** Throws when this connection already holds as many handles as one client may. */
  checkCap(): void {
    if (this.tree.handles.ownedBy(this.owner) >= this.maxHandles) {
      throw new MemweaveError('net', 'limit', `this connection holds ${this.maxHandles} handles (the most one client may); close some first`)
    }
  }

  /** Tells the client when a handle it opened goes stale, once per handle. */
  async watchStale(handle: number): Promise<void> {
    if (this.staleWatches.has(handle)) return
    const entry = await this.tree.handles.get(handle, this.owner).catch(() => undefined)
    if (entry === undefined) return
    this.staleWatches.set(handle, entry.leaf.lifetime.onEnd((reason) => {
      this.staleWatches.delete(handle)
      this.tellStale(handle, `${entry.leaf.lifetime.description} ${reason}`)
    }))
  }

  /** Stops telling about a handle this connection no longer holds (so closed handles leave no listener behind). */
  dropStaleWatch(handle: number): void {
    const stop = this.staleWatches.get(handle)
    if (stop === undefined || this.tree.handles.isHeldBy(handle, this.owner)) return
    stop()
    this.staleWatches.delete(handle)
  }

  /** Stops every stale notice (the connection closed). */
  stopWatching(): void {
    for (const stop of this.staleWatches.values()) stop()
    this.staleWatches.clear()
  }

  /** Releases every handle the connection holds and its label in the holds table. */
  async dropAll(): Promise<void> {
    try {
      const dropped = await this.tree.handles.dropOwner(this.owner)
      this.tree.handles.holds.label(this.owner, undefined)
      if (dropped > 0) this.log.debug({ dropped }, 'released the handles of a closed connection')
    } catch (err) {
      this.log.warn({ err }, 'releasing handles of a closed connection failed')
    }
  }
}
