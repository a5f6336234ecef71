/**
 * groupPages: distinct pages come out ascending in canonical order (the
 * lower half before the upper), each input points at its own page, and the
 * packed fast path and the Map fallback agree.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { groupPages } from './page-grouping.js'

const TWO_52 = 2 ** 52

/** A canonical page number for a virtual-address width, from a linear one. */
function canonicalVpn(linear: number, virtualBits: number): number {
  const half = 2 ** (virtualBits - 13)
  return linear < half ? linear : linear + TWO_52 - 2 * half
}

function check(vpns: Float64Array, halfVpn: number): void {
  const { distinct, slotOf } = groupPages(vpns, halfVpn)
  for (let k = 1; k < distinct.length; k++) assert.ok(distinct[k - 1]! < distinct[k]!, 'ascending and distinct')
  const expected = new Set([...vpns].filter((v) => v >= 0))
  assert.equal(distinct.length, expected.size)
  vpns.forEach((vpn, i) => assert.equal(vpn < 0 ? -1 : distinct[slotOf[i]!], vpn < 0 ? -1 : vpn))
}

describe('groupPages', () => {
  for (const bits of [48, 57]) {
    it(`${bits}-bit: ascending distinct pages, every input mapped to its page`, () => {
      const space = 2 ** (bits - 12)
      fc.assert(fc.property(fc.array(fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: space - 1 }), fc.constant(-1)), { maxLength: 300 }), (linears) => {
        check(Float64Array.from(linears, (l) => (l < 0 ? -1 : canonicalVpn(l, bits))), 2 ** (bits - 13))
      }))
    })
  }

  it('large LA57 batches take the Map path and still agree', () => {
    const vpns = Float64Array.from({ length: 5000 }, (_, i) => canonicalVpn((i * 7919) % 3000 + (i % 2 === 0 ? 2 ** 44 : 0), 57))
    check(vpns, 2 ** 44)
  })

  it('an empty batch and an all-skipped batch give no pages', () => {
    assert.equal(groupPages(new Float64Array(0), 2 ** 35).distinct.length, 0)
    assert.deepEqual([...groupPages(Float64Array.of(-1, -1), 2 ** 35).slotOf], [-1, -1])
  })
})
