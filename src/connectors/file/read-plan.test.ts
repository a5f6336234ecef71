/**
 * The read planner: every extent lands in exactly one run that covers it,
 * runs are in file order, and merging respects the gap and size caps.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { planReads } from './read-plan.js'
import type { FileExtent } from './read-plan.js'

describe('planReads', () => {
  it('merges adjacent and nearby extents, keeps far ones apart', () => {
    const extents: FileExtent[] = [
      { offset: 8192, length: 4096, piece: 1, dest: -1 },
      { offset: 0, length: 4096, piece: 0, dest: -1 },
      { offset: 4096, length: 4096, piece: 2, dest: -1 },
      { offset: 1 << 20, length: 16, piece: 3, dest: -1 },
    ]
    const runs = planReads(extents, { gapBytes: 1024, maxRunBytes: 1 << 20 })
    assert.deepEqual(runs.map((r) => [r.offset, r.length, r.extents.map((e) => e.piece)]), [[0, 12288, [0, 2, 1]], [1 << 20, 16, [3]]])
  })

  it('covers every extent once, within caps (property)', () => {
    const extent = fc.record({ offset: fc.integer({ min: 0, max: 1 << 22 }), length: fc.integer({ min: 1, max: 1 << 16 }) })
    fc.assert(fc.property(fc.array(extent, { maxLength: 60 }), fc.integer({ min: 0, max: 1 << 15 }), fc.integer({ min: 1, max: 1 << 18 }), (raw, gapBytes, maxRunBytes) => {
      const extents = raw.map((e, piece) => ({ ...e, piece, dest: -1 }))
      const runs = planReads(extents, { gapBytes, maxRunBytes })
      const seen = new Set<number>()
      let previousEnd = -1
      let previousStart = -1
      for (const run of runs) {
        assert.ok(run.offset > previousStart, 'runs are in file order')
        assert.ok(run.offset + run.length > previousEnd, 'a run is never inside the previous one')
        previousStart = run.offset
        previousEnd = run.offset + run.length
        const longest = Math.max(...run.extents.map((e) => e.length))
        assert.ok(run.length <= Math.max(maxRunBytes, longest), 'runs stay under the cap unless one extent alone exceeds it')
        for (const e of run.extents) {
          assert.ok(!seen.has(e.piece))
          seen.add(e.piece)
          assert.ok(e.offset >= run.offset && e.offset + e.length <= run.offset + run.length, 'run covers its extents')
        }
      }
      assert.equal(seen.size, extents.length)
    }), { numRuns: 300 })
  })
})
