/**
 * The only thing a node remembers about a peer's tree: a remote path's stat
 * (branch or leaf, with its metadata), so resolving a deep
 * remote path does not cost one round trip per segment every time. Tiny
 * (bounded entries, short expiry) and cleared by the peer's change events;
 * listings themselves are never cached.
 */
import type { LeafMeta } from '../../tree/index.js'

/** What a remote path is (its entry type, as Entry.type) and, for a leaf, its metadata. */
export interface RemoteStat {
  readonly type: 'leaf' | 'branch'
  readonly meta?: LeafMeta
}

export class StatCache {
  private readonly entries = new Map<string, { readonly stat: RemoteStat; readonly at: number }>()

  constructor(private readonly maxEntries = 512, private readonly ttlMs = 2000) {}

  get(path: string): RemoteStat | undefined {
    const hit = this.entries.get(path)
    if (hit === undefined) return undefined
    if (performance.now() - hit.at > this.ttlMs) { this.entries.delete(path); return undefined }
    return hit.stat
  }

  set(path: string, stat: RemoteStat): void {
    this.entries.delete(path)
    this.entries.set(path, { stat, at: performance.now() })
    // Maps keep insertion order: the first key is the oldest.
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next()
      if (oldest.done === true) break
      this.entries.delete(oldest.value)
    }
  }

  /** A change event for `path`: its children may be other things now. '' clears everything. */
  invalidate(path: string): void {
    if (path === '') { this.entries.clear(); return }
    for (const key of this.entries.keys()) {
      if (key === path || key.startsWith(`${path}/`)) this.entries.delete(key)
    }
  }

  get size(): number {
    return this.entries.size
  }
}
