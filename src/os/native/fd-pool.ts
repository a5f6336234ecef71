/**
 * A bounded pool of open /proc/PID/mem file handles, one per process (and
 * access mode). A handle stays open while its process is in use, so batched
 * reads cost no open(); the least recently used idle handles are closed
 * past the bound, and a process's handle is dropped when its lifetime ends.
 */
import type { FileHandle } from 'node:fs/promises'

interface PoolEntry {
  readonly handle: Promise<FileHandle>
  users: number
  lastUsed: number
}

export class FdPool {
  private readonly entries = new Map<string, PoolEntry>()
  private tick = 0

  constructor(readonly maxOpen: number) {}

  /** Runs fn with the handle for key, opening it with `open` when needed. */
  async use<T>(key: string, open: () => Promise<FileHandle>, fn: (handle: FileHandle) => Promise<T>): Promise<T> {
    let entry = this.entries.get(key)
    if (entry === undefined) {
      entry = { handle: open(), users: 0, lastUsed: 0 }
      this.entries.set(key, entry)
    }
    const current = entry
    current.users++
    current.lastUsed = ++this.tick
    try {
      let handle: FileHandle
      try {
        handle = await current.handle
      } catch (err) {
        // A failed open is not kept: the next use tries again.
        if (this.entries.get(key) === current) this.entries.delete(key)
        throw err
      }
      return await fn(handle)
    } finally {
      current.users--
      await this.evict()
    }
  }

  /** Closes and forgets every handle whose key starts with prefix (a process that ended). */
  async drop(prefix: string): Promise<void> {
    for (const [key, entry] of this.entries) {
      if (!key.startsWith(prefix)) continue
      this.entries.delete(key)
      await closeEntry(entry)
    }
  }

  async closeAll(): Promise<void> {
    const all = [...this.entries.values()]
    this.entries.clear()
    await Promise.all(all.map(closeEntry))
  }

  get size(): number {
    return this.entries.size
  }

  private async evict(): Promise<void> {
    if (this.entries.size <= this.maxOpen) return
    const idle = [...this.entries].filter(([, e]) => e.users === 0).sort(([, a], [, b]) => a.lastUsed - b.lastUsed)
    for (const [key, entry] of idle.slice(0, this.entries.size - this.maxOpen)) {
      this.entries.delete(key)
      await closeEntry(entry)
    }
  }
}

async function closeEntry(entry: PoolEntry): Promise<void> {
  // An entry whose open failed has nothing to close; its error went to the caller that opened it.
  const handle = await entry.handle.catch(() => undefined)
  await handle?.close()
}
