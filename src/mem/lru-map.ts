/**
 * A size-bounded LRU map over number keys whose entries expire by a
 * CacheValidity strategy: forever for dumps, timed for live sources. The
 * page cache and the arch caches (table pages, translations) are built on it.
 *
 * Recency is kept the CLOCK way (second chance): entries sit in a ring of
 * slots, a hit only sets the slot's flag, and the evicting hand clears flags
 * until it finds an unflagged slot. Evicting "the first key of a Map"
 * instead makes V8 skip every deleted hole at the front, which collapses to
 * tens of thousands of operations per second on a 64k-entry cache.
 */
import { MemweaveError } from '../errors/index.js'
import type { CacheValidity } from './page-cache.js'

export class LruMap<V> {
  private readonly slotOf = new Map<number, number>()
  private readonly keys: number[] = []
  private readonly values: (V | undefined)[] = []
  private readonly stamps: number[] = []
  private readonly used: boolean[] = []
  private readonly occupied: boolean[] = []
  private free: number[] = []
  private hand = 0
  hits = 0
  misses = 0

  constructor(readonly maxEntries: number, readonly validity: CacheValidity) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new MemweaveError('mem', 'invalid_argument', `cache size must be a positive integer, got ${maxEntries}`)
    }
  }

  get size(): number {
    return this.slotOf.size
  }

  get(key: number): V | undefined {
    const slot = this.slotOf.get(key)
    if (slot === undefined) { this.misses++; return undefined }
    if (!this.validity.isValid(this.stamps[slot]!)) { this.release(slot); this.misses++; return undefined }
    this.used[slot] = true
    this.hits++
    return this.values[slot]
  }

  set(key: number, value: V): void {
    let slot = this.slotOf.get(key)
    if (slot === undefined) {
      slot = this.free.pop() ?? (this.keys.length < this.maxEntries ? this.keys.length : this.evict())
      this.slotOf.set(key, slot)
      this.keys[slot] = key
      this.occupied[slot] = true
      this.used[slot] = false
    }
    this.values[slot] = value
    this.stamps[slot] = this.validity.stamp()
  }

  delete(key: number): boolean {
    const slot = this.slotOf.get(key)
    if (slot === undefined) return false
    this.release(slot)
    return true
  }

  clear(): void {
    this.slotOf.clear()
    this.values.fill(undefined)
    this.occupied.fill(false)
    this.free = Array.from({ length: this.keys.length }, (_, i) => this.keys.length - 1 - i)
  }

  private release(slot: number): void {
    this.slotOf.delete(this.keys[slot]!)
    this.values[slot] = undefined
    this.occupied[slot] = false
    this.free.push(slot)
  }

  /** Frees a slot by the CLOCK hand; the ring is full, so this ends within two sweeps. */
  private evict(): number {
    for (;;) {
      const slot = this.hand
      this.hand = (this.hand + 1) % this.keys.length
      if (!this.occupied[slot]) return slot
      if (this.used[slot]) { this.used[slot] = false; continue }
      this.slotOf.delete(this.keys[slot]!)
      return slot
    }
  }
}
