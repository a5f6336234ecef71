/**
 * The read planner: every extent lands in exactly one run that covers it,
 * runs are in position order, merging respects the gap and size caps, and
 * extents of different readable spans share a read only where they touch.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { planReads } from './read-plan.js'
import type { Extent } from './read-plan.js'

describe('planReads', () => {
  it('merges adjacent and nearby extents, keeps far ones apart', () => {
    const extents: Extent[] = [
      { pos: 8192, length: 4096, piece: 1, dest: -1, span: 0 },
      { pos: 0, length: 4096, piece: 0, dest: -1, span: 0 },
      { pos: 4096, length: 4096, piece: 2, dest: -1, span: 0 },
      { pos: 1 << 20, length: 16, piece: 3, dest: -1, span: 0 },
    ]
    const runs = planReads(extents, { gapBytes: 1024, maxRunBytes: 1 << 20 })
    assert.deepEqual(runs.map((r) => [r.pos, r.length, r.extents.map((e) => e.piece)]), [[0, 12288, [0, 2, 1]], [1 << 20, 16, [3]]])
  })

  it('keeps extents of different spans apart unless they touch', () => {
    const runs = planReads([
      { pos: 0, length: 4096, piece: 0, dest: -1, span: 0 },
      { pos: 8192, length: 4096, piece: 1, dest: -1, span: 1 }, // within the gap, but across a hole
      { pos: 12288, length: 16, piece: 2, dest: -1, span: 2 }, // touches the previous extent: shares its read
    ], { gapBytes: 16384, maxRunBytes: 1 << 20 })
    assert.deepEqual(runs.map((r) => [r.pos, r.length, r.extents.map((e) => e.piece)]), [[0, 4096, [0]], [8192, 4112, [1, 2]]])
  })

  it('covers every extent once, within caps (property)', () => {
    const extent = fc.record({ pos: fc.integer({ min: 0, max: 1 << 22 }), length: fc.integer({ min: 1, max: 1 << 16 }), span: fc.integer({ min: 0, max: 2 }) })
    fc.assert(fc.property(fc.array(extent, { maxLength: 60 }), fc.integer({ min: 0, max: 1 << 15 }), fc.integer({ min: 1, max: 1 << 18 }), (raw, gapBytes, maxRunBytes) => {
      const extents = raw.map((e, piece) => ({ ...e, piece, dest: -1, span: e.span }))
      const runs = planReads(extents, { gapBytes, maxRunBytes })
      const seen = new Set<number>()
      let previousEnd = -1
      let previousStart = -1
      for (const run of runs) {
        assert.ok(run.pos > previousStart, 'runs are in position order')
        assert.ok(run.pos + run.length > previousEnd, 'a run is never inside the previous one')
        previousStart = run.pos
        previousEnd = run.pos + run.length
        const longest = Math.max(...run.extents.map((e) => e.length))
        assert.ok(run.length <= Math.max(maxRunBytes, longest), 'runs stay under the cap unless one extent alone exceeds it')
        for (const e of run.extents) {
          assert.ok(!seen.has(e.piece))
          seen.add(e.piece)
          assert.ok(e.pos >= run.pos && e.pos + e.length <= run.pos + run.length, 'run covers its extents')
        }
      }
      assert.equal(seen.size, extents.length)
    }), { numRuns: 300 })
  })
})
