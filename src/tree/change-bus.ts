/**
 * Change events: whoever changes a branch's children (a connector added, a
 * process gone) announces the branch path; subscribers (protocol clients,
 * FUSE caches, peers) hear about that branch and the ones under it.
 *
 * A change may carry what appeared and what went (a live OS's process list,
 * found by polling, which runs only while someone listens for it: `wantsPolled`).
 * A poller remembers what is there when a listener first asks (`prepare`,
 * awaited before subscribing), so everything that comes after is reported.
 */
import { normalizePath } from './path.js'

/** One object that appeared under, or went from, a changed branch. */
export interface ObjectChange {
  readonly change: 'appeared' | 'gone'
  /** The object's own path (e.g. os/g/processes/by-pid/42). */
  readonly path: string
  /** What is known of it without opening it (a process: pid, ppid, name). */
  readonly object: Readonly<Record<string, unknown>>
}

export type ChangeListener = (path: string, objects?: readonly ObjectChange[]) => void

export interface SubscribeOptions {
  /** The listener also wants changes that sources find only by polling (a live OS's processes): they poll while it listens. */
  readonly polled?: boolean
}

interface Subscription {
  readonly prefix: string
  readonly polled: boolean
}

function covers(prefix: string, changed: string): boolean {
  return prefix === '' || changed === prefix || changed.startsWith(`${prefix}/`) || prefix.startsWith(`${changed}/`)
}

/** Gets ready to report polled changes at or below `path` (takes its first listing). */
export type Preparer = (path: string) => Promise<void>

export class ChangeBus {
  private readonly listeners = new Map<ChangeListener, Subscription>()
  private readonly preparers = new Set<Preparer>()

  /** Registers a poller's preparer; returns its removal. */
  addPreparer(preparer: Preparer): () => void {
    this.preparers.add(preparer)
    return () => this.preparers.delete(preparer)
  }

  /** Lets pollers take their first listing under `path`, so a listener subscribed right after misses nothing. */
  async prepare(path: string): Promise<void> {
    const normalized = normalizePath(path)
    await Promise.all([...this.preparers].map((preparer) => preparer(normalized)))
  }

  /** Listens for changes at or below `path` ('' for everything). */
  subscribe(path: string, listener: ChangeListener, options: SubscribeOptions = {}): () => void {
    this.listeners.set(listener, { prefix: normalizePath(path), polled: options.polled === true })
    return () => this.listeners.delete(listener)
  }

  /** Whether a listener that wants polled changes would hear a change at `path`. */
  wantsPolled(path: string): boolean {
    const changed = normalizePath(path)
    for (const { prefix, polled } of this.listeners.values()) if (polled && covers(prefix, changed)) return true
    return false
  }

  notify(path: string, objects?: readonly ObjectChange[]): void {
    const changed = normalizePath(path)
    for (const [listener, { prefix }] of this.listeners) {
      if (covers(prefix, changed)) listener(changed, objects)
    }
  }
}
