/**
 * RingLedger against a model: regions taken for reads that finish in any
 * order, sent or dropped, and a client that copies in sending order and
 * reports the end of the last piece it copied. Live regions never overlap,
 * and once everything sent is reported, the whole ring is free again.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { RingSpace } from './data-ring.js'
import { RingLedger } from './ring-ledger.js'
import type { RingRegion } from './ring-ledger.js'

test('regions finished in any order, sent or dropped, are all freed by the client\'s marks (model check)', () => {
  const step = fc.oneof(
    fc.record({ kind: fc.constant('take' as const), lengths: fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 3 }) }),
    fc.record({ kind: fc.constant('finish' as const), pick: fc.nat(), drop: fc.boolean(), short: fc.nat({ max: 50 }) }),
    fc.record({ kind: fc.constant('copy' as const), count: fc.integer({ min: 0, max: 3 }) }),
    fc.record({ kind: fc.constant('lie' as const), mark: fc.nat() }),
  )
  fc.assert(fc.property(fc.integer({ min: 300, max: 1000 }), fc.array(step, { maxLength: 150 }), (capacity, steps) => {
    const ledger = new RingLedger(new RingSpace(capacity))
    let live: RingRegion[] = [] // taken and not finished
    let sent: RingRegion[] = [] // sent, not yet copied by the client
    let onClient = 0 // sent and copied, not yet reported
    let lastMark: number | undefined
    const report = (): void => { if (lastMark !== undefined) { assert.ok(ledger.release(lastMark)); lastMark = undefined; onClient = 0 } }
    for (const s of steps) {
      if (s.kind === 'take') {
        const regions = ledger.takeAll(s.lengths)
        if (regions === undefined) continue
        for (const r of regions) {
          const offset = r.position % capacity
          assert.ok(offset + r.length <= capacity, 'region crosses the end of the ring')
          for (const other of [...live, ...sent]) {
            const o = other.position % capacity
            assert.ok(offset + r.length <= o || o + other.length <= offset, 'region overlaps one still in use')
          }
          live.push(r)
        }
      } else if (s.kind === 'finish' && live.length > 0) {
        const region = live[s.pick % live.length]!
        live = live.filter((r) => r !== region)
        if (s.drop) ledger.drop(region)
        else { ledger.sending(region, Math.max(1, region.length - s.short)); sent.push(region) }
      } else if (s.kind === 'copy') {
        // The client copies in sending order and reports the end of the last one with its next request.
        const copied = sent.slice(0, s.count)
        sent = sent.slice(copied.length)
        const last = copied[copied.length - 1]
        if (last !== undefined) { lastMark = last.sentEnd; onClient += copied.length }
        // Those still on the client (not reported) are not free: they stay in the overlap check until the report.
        if (s.count === 0) report()
      } else if (s.kind === 'lie') {
        // A mark that ends nothing in flight is ignored (unless it happens to be a real one).
        if (![...sent].some((r) => r.sentEnd === s.mark) && s.mark !== lastMark) ledger.release(s.mark)
      }
    }
    report()
    for (const r of live) ledger.drop(r)
    if (sent.length > 0) assert.ok(ledger.release(sent[sent.length - 1]!.sentEnd))
    assert.equal(ledger.inFlight, 0, 'every region freed')
    assert.equal(ledger.space.used, 0)
    assert.ok(ledger.takeAll([capacity]) !== undefined, 'the whole ring is free')
  }), { numRuns: 300 })
})
