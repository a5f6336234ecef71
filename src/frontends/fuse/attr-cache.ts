/**
 * A short-lived cache of what paths are (branch, or leaf with metadata), so
 * `ls -l` after a readdir does not ask the daemon once per name. Entries
 * expire after ttlMs (memory leaves are never kept: their existence follows
 * a live process), the cache is bounded, and change events from the tree
 * drop everything at or below the changed branch.
 */
import type { Entry, Stat } from '../../net/index.js'

export interface CachedNode {
  readonly type: 'leaf' | 'branch'
  readonly meta?: Stat['meta']
}

/** Bound on remembered paths; a listing of a huge branch simply stops adding. */
export const MAX_CACHED_PATHS = 65536

export class AttrCache {
  private readonly nodes = new Map<string, { node: CachedNode; at: number }>()

  constructor(private readonly ttlMs: number) {}

  get(path: string): CachedNode | undefined {
    const hit = this.nodes.get(path)
    if (hit === undefined) return undefined
    if (performance.now() - hit.at > this.ttlMs) {
      this.nodes.delete(path)
      return undefined
    }
    return hit.node
  }

  put(path: string, node: CachedNode): void {
    if (this.ttlMs <= 0 || node.meta?.content === 'mem') return
    if (this.nodes.size >= MAX_CACHED_PATHS && !this.nodes.has(path)) this.sweep()
    if (this.nodes.size >= MAX_CACHED_PATHS) return
    this.nodes.set(path, { node, at: performance.now() })
  }

  /** Remembers the children of a listed branch (only those whose metadata came with the listing). */
  putListing(branch: string, entries: readonly Entry[]): void {
    for (const entry of entries) {
      if (entry.type === 'branch' || entry.meta !== undefined) {
        this.put(branch === '' ? entry.name : `${branch}/${entry.name}`, { type: entry.type, meta: entry.meta })
      }
    }
  }

  /** Forgets `path` and everything below it ('' forgets all). */
  invalidate(path: string): void {
    if (path === '') { this.nodes.clear(); return }
    for (const key of this.nodes.keys()) {
      if (key === path || key.startsWith(`${path}/`)) this.nodes.delete(key)
    }
  }

  get size(): number {
    return this.nodes.size
  }

  private sweep(): void {
    const now = performance.now()
    for (const [key, hit] of this.nodes) if (now - hit.at > this.ttlMs) this.nodes.delete(key)
  }
}
