/**
 * RingSpace against a model: every reserved region lies inside the ring,
 * never overlaps a region not yet released, and releases only move forward
 * through what was reserved.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { RingSpace, ringEpoch } from './data-ring.js'

test('the epoch is a multiple of the capacity below 2^32 and spans at least two laps', () => {
  for (const capacity of [1, 4096, 1 << 20, 3 * 1000 * 1000 + 7, 2 ** 31]) {
    const epoch = ringEpoch(capacity)
    assert.equal(epoch % capacity, 0)
    assert.ok(epoch <= 2 ** 32 && epoch >= 2 * capacity)
  }
  assert.throws(() => new RingSpace(0), RangeError)
  assert.throws(() => new RingSpace(2 ** 31 + 1), RangeError)
})

test('a full ring refuses, a released ring takes again, the short tail of a lap is skipped', () => {
  const space = new RingSpace(1000)
  assert.equal(space.reserve(600), 0)
  assert.equal(space.reserve(600), undefined) // would not fit before the end, and the start is taken
  assert.equal(space.reserve(400), 600)
  assert.equal(space.reserve(1), undefined)
  assert.ok(space.release(600))
  assert.equal(space.reserve(700), undefined) // only 600 free
  assert.equal(space.reserve(500), 1000) // the next lap starts at offset 0
  assert.equal(space.offsetOf(1000), 0)
  assert.equal(space.release(5000), false) // never reserved
  assert.equal(space.release(300), false) // behind the tail
  // An empty ring takes a piece longer than the rest of the lap: the lap restarts, the skipped end is not counted.
  assert.ok(space.release(1500))
  assert.equal(space.used, 0)
  assert.equal(space.reserve(900), 2000)
  assert.equal(space.release(1500), false) // the old mark is stale now
  assert.equal(space.used, 900)
  assert.equal(space.reserve(0), undefined)
  assert.equal(space.reserve(1001), undefined)
})

test('a lap ends early once the start of the ring is free, so the working set stays near twice what is in flight', () => {
  const space = new RingSpace(1000)
  // One at a time (each consumed before the next is taken): always the same bytes at the start of the ring.
  let position = space.reserve(100)
  assert.equal(position, 0)
  for (let i = 0; i < 25; i++) {
    assert.ok(position !== undefined && space.release((position + 100) % space.epoch))
    position = space.reserve(100)
    assert.equal(position === undefined ? undefined : space.offsetOf(position), 0, `read ${i} starts the ring again`)
  }
  // Three in flight, the oldest consumed as each new one is taken: offsets stay below 2 * 300 + 100.
  const fresh = new RingSpace(1000)
  const live: number[] = []
  for (let i = 0; i < 60; i++) {
    if (live.length === 3) assert.ok(fresh.release((live.shift()! + 100) % fresh.epoch))
    const p = fresh.reserve(100)
    assert.ok(p !== undefined, `read ${i} fits`)
    assert.ok(fresh.offsetOf(p) + 100 <= 700, `read ${i} at offset ${fresh.offsetOf(p)} stays in the warm part`)
    live.push(p)
  }
  // Not while the start is still in use: the lap goes on (and a piece that does not fit at the end waits as before).
  const busy = new RingSpace(1000)
  assert.equal(busy.reserve(300), 0)
  assert.equal(busy.reserve(300), 300)
  assert.ok(busy.release(300))
  assert.equal(busy.reserve(300), 600, 'only 300 free at the start, with 300 in use: no early lap')
})

interface Region { position: number; offset: number; length: number; end: number }

test('reserved regions stay inside the ring and never overlap unreleased ones (model check)', () => {
  const step = fc.oneof(
    fc.record({ kind: fc.constant('reserve' as const), length: fc.integer({ min: 1, max: 400 }) }),
    fc.record({ kind: fc.constant('release' as const), count: fc.integer({ min: 0, max: 4 }) }),
    fc.record({ kind: fc.constant('lie' as const), position: fc.nat() }),
  )
  fc.assert(fc.property(fc.integer({ min: 100, max: 1000 }), fc.array(step, { maxLength: 200 }), (capacity, steps) => {
    const space = new RingSpace(capacity)
    let live: Region[] = []
    for (const s of steps) {
      if (s.kind === 'reserve') {
        const position = space.reserve(s.length)
        if (position === undefined) continue
        const offset = space.offsetOf(position)
        assert.ok(offset + s.length <= capacity, 'region crosses the end of the ring')
        for (const r of live) assert.ok(offset + s.length <= r.offset || r.offset + r.length <= offset, 'region overlaps one not released')
        live.push({ position, offset, length: s.length, end: (position + s.length) % space.epoch })
      } else if (s.kind === 'release') {
        const upTo = live[Math.min(s.count, live.length) - 1]
        if (upTo === undefined) continue
        assert.ok(space.release(upTo.end))
        live = live.slice(live.indexOf(upTo) + 1)
      } else {
        // A lie inside the reserved span is taken: regions it cut into are the liar's loss; the rest stay protected.
        const tail = s.position % space.epoch
        if (space.release(tail)) live = live.filter((r) => (r.position - tail + space.epoch) % space.epoch + r.length <= space.used)
      }
      assert.ok(space.used <= capacity)
    }
  }), { numRuns: 300 })
})
