/**
 * The bounded caches: size bounds, second-chance eviction, expiry through a
 * CacheValidity (driven by a hand-moved clock, never by real time),
 * invalidation, and the validity chosen for dumps versus live memory.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { FOREVER, LruMap } from '../mem/index.js'
import type { CacheValidity, MemMetadata } from '../mem/index.js'
import { PageTableCache, TranslationCache, validityFor } from './table-cache.js'

/** A validity whose clock the test moves by hand. */
function manualClock(validFor: number): CacheValidity & { now: number } {
  const clock = { now: 0, stamp: () => clock.now, isValid: (stamp: number) => clock.now - stamp < validFor }
  return clock
}

describe('LruMap', () => {
  it('never holds more than maxEntries and returns what it holds', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 64 }), fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 200 })), { maxLength: 600 }), (max, ops) => {
      const lru = new LruMap<number>(max, FOREVER)
      const model = new Map<number, number>()
      ops.forEach(([isSet, key], step) => {
        if (isSet) { lru.set(key, step); model.set(key, step) } else {
          const got = lru.get(key)
          // A hit must be the latest value; a miss is allowed (evicted).
          if (got !== undefined) assert.equal(got, model.get(key))
        }
        assert.ok(lru.size <= max)
      })
    }))
  })

  it('gives recently used entries a second chance', () => {
    const lru = new LruMap<string>(3, FOREVER)
    lru.set(1, 'a'); lru.set(2, 'b'); lru.set(3, 'c')
    assert.equal(lru.get(1), 'a')
    lru.set(4, 'd') // evicts 2: 1 was used
    assert.equal(lru.get(2), undefined)
    assert.deepEqual([lru.get(1), lru.get(3), lru.get(4)], ['a', 'c', 'd'])
  })

  it('expires entries by its validity, delete and clear free their slots', () => {
    const clock = manualClock(10)
    const lru = new LruMap<string>(2, clock)
    lru.set(1, 'a')
    clock.now = 5
    lru.set(2, 'b')
    clock.now = 12
    assert.equal(lru.get(1), undefined, 'expired')
    assert.equal(lru.get(2), 'b')
    assert.equal(lru.delete(2), true)
    assert.equal(lru.size, 0)
    lru.set(3, 'c'); lru.set(4, 'd')
    lru.clear()
    assert.equal(lru.size, 0)
    lru.set(5, 'e'); lru.set(6, 'f')
    assert.deepEqual([lru.get(5), lru.get(6)], ['e', 'f'])
  })

  it('refuses a non-positive bound', () => {
    assert.throws(() => new LruMap(0, FOREVER), /positive integer/)
  })
})

describe('PageTableCache and TranslationCache', () => {
  it('keeps a copy of a table page and drops pages a write overlaps', () => {
    const cache = new PageTableCache({ maxEntries: 8 })
    const page = new Uint8Array(4096).fill(7)
    cache.put(0x1000, page)
    page.fill(0)
    assert.equal(cache.get(0x1000)?.[25], 0x07070707, 'a copy, not the caller buffer')
    cache.put(0x3000, page)
    assert.equal(cache.invalidateRange(0x1ff8, 0x1010), 2, '0x1ff8..0x3008 overlaps the pages at 0x1000, 0x2000 and 0x3000')
    assert.equal(cache.get(0x1000), undefined)
    assert.equal(cache.get(0x3000), undefined)
    assert.equal(cache.stats().entries, 0)
  })

  it('bounds both caches and counts hits and misses', () => {
    const tables = new PageTableCache({ maxEntries: 4 })
    const tlb = new TranslationCache({ maxEntries: 4 })
    for (let i = 0; i < 10; i++) {
      tables.put(i * 4096, new Uint8Array(4096))
      tlb.put(i, { physPage: i * 4096, pageBytes: 4096, flags: 0 })
    }
    assert.equal(tables.stats().entries, 4)
    assert.equal(tlb.stats().entries, 4)
    tlb.get(9)
    tlb.get(0)
    assert.deepEqual({ hits: tlb.stats().hits, misses: tlb.stats().misses }, { hits: 1, misses: 1 })
    tlb.invalidate()
    tables.invalidate()
    assert.equal(tlb.get(9), undefined)
    assert.equal(tables.stats().entries, 0)
  })

  it('dumps keep entries forever, live memory only briefly', () => {
    const meta = (volatile: boolean): MemMetadata => ({ maxAddress: 1n << 30n, idealBatchSize: 1, readonly: true, volatile })
    assert.equal(validityFor(meta(false)), FOREVER)
    assert.notEqual(validityFor(meta(true)), FOREVER)
  })
})
