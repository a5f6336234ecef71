/**
 * Change events: whoever changes a branch's children (a connector added, a
 * process gone) announces the branch path; subscribers (protocol clients,
 * FUSE caches, peers) hear about that branch and the ones under it.
 */
import { normalizePath } from './path.js'

export type ChangeListener = (path: string) => void

export class ChangeBus {
  private readonly listeners = new Map<ChangeListener, string>()

  /** Listens for changes at or below `path` ('' for everything). */
  subscribe(path: string, listener: ChangeListener): () => void {
    this.listeners.set(listener, normalizePath(path))
    return () => this.listeners.delete(listener)
  }

  notify(path: string): void {
    const changed = normalizePath(path)
    for (const [listener, prefix] of this.listeners) {
      if (prefix === '' || changed === prefix || changed.startsWith(`${prefix}/`) || prefix.startsWith(`${changed}/`)) {
        listener(changed)
      }
    }
  }
}
