/**
 * The watches of one connection: each subscribes to the tree's ChangeBus and
 * turns changes into `change` events. A change that says which objects
 * appeared or went (a live OS's processes) becomes `appeared`/`gone` events
 * for clients that know them (1.4), a plain `change` for the others. While
 * the client is not reading, events are held (deduplicated, as plain
 * changes); too many collapse into one "something under your watch
 * changed" event per watch, so holding stays bounded.
 */
import { MemweaveError } from '../errors/index.js'
import { normalizePath } from '../tree/index.js'
import type { ChangeBus, ObjectChange } from '../tree/index.js'
import type { ChangeEvent, ObjectEvent } from './messages.js'

/** Held change events beyond this collapse into one event per watch. */
const MAX_HELD_EVENTS = 1024

interface Watch {
  readonly path: string
  readonly unsubscribe: () => void
}

export class ConnectionWatches {
  private readonly watches = new Map<number, Watch>()
  private nextId = 1
  private held = new Map<string, ChangeEvent>()

  constructor(
    private readonly bus: ChangeBus,
    private readonly maxWatches: number,
    /** Sends an event now, or returns false when the client is not reading and it must wait. */
    private readonly deliver: (event: ChangeEvent | ObjectEvent) => boolean,
    /** The nodes a change came through (stamped on its event), or undefined to drop it (peers: no echoes). */
    private readonly route: () => readonly string[] | undefined = () => [],
  ) {}

  /** `objects` (1.4): this watch wants `appeared`/`gone` events instead of the changes they explain. */
  add(path: string, objects = false): number {
    if (this.watches.size >= this.maxWatches) throw new MemweaveError('net', 'limit', `more than ${this.maxWatches} watches on this connection`)
    const normalized = normalizePath(path)
    const watchId = this.nextId++
    const unsubscribe = this.bus.subscribe(normalized, (changed, changes) => {
      const via = this.route()
      if (via === undefined) return
      if (objects && changes !== undefined && changes.length > 0 && this.pushObjects(watchId, normalized, changes, via)) return
      this.push({ event: 'change', watchId, path: changed, ...(via.length === 0 ? {} : { via }) })
    }, { polled: true })
    this.watches.set(watchId, { path: normalized, unsubscribe })
    return watchId
  }

  remove(watchId: number): void {
    const watch = this.watches.get(watchId)
    if (watch === undefined) throw new MemweaveError('net', 'not_found', `watch ${watchId} is not active`)
    watch.unsubscribe()
    this.watches.delete(watchId)
  }

  /** Sends what was held (the client reads again). */
  flush(): void {
    const held = [...this.held.values()]
    this.held.clear()
    for (const event of held) this.push(event)
  }

  clear(): void {
    for (const watch of this.watches.values()) watch.unsubscribe()
    this.watches.clear()
    this.held.clear()
  }

  /**
   * Sends one event per object under the watch; false (nothing sent) when the client is not reading or
   * some object is outside the watch, so the caller sends the plain change (which is held when it must wait).
   */
  private pushObjects(watchId: number, watched: string, changes: readonly ObjectChange[], via: readonly string[]): boolean {
    const inside = changes.filter((o) => watched === '' || o.path === watched || o.path.startsWith(`${watched}/`))
    if (inside.length === 0) return true // a change beside the watch (a sibling process): nothing for this one
    if (this.held.size > 0) return false // keep the order: what is held goes first, as a plain change
    for (const [i, o] of inside.entries()) {
      if (!this.deliver({ event: o.change, watchId, path: o.path, object: o.object, ...(via.length === 0 ? {} : { via }) })) {
        if (i === 0) return false
        // The client stopped reading half way: what it missed is held as one change of the branch.
        this.push({ event: 'change', watchId, path: watched })
        return true
      }
    }
    return true
  }

  private push(event: ChangeEvent): void {
    const watch = this.watches.get(event.watchId)
    if (watch === undefined || this.deliver(event)) return
    // Once the watched path itself is held, it already says "anything below may have changed".
    if (this.held.has(`${event.watchId}\0${watch.path}`)) return
    this.held.set(`${event.watchId}\0${event.path}`, event)
    if (this.held.size <= MAX_HELD_EVENTS) return
    const watched = new Set([...this.held.values()].map((e) => e.watchId))
    this.held = new Map([...watched].flatMap((watchId): Array<[string, ChangeEvent]> => {
      const path = this.watches.get(watchId)?.path
      return path === undefined ? [] : [[`${watchId}\0${path}`, { event: 'change', watchId, path }]]
    }))
  }
}
