/**
 * walkMappings against the fake: unmerged it lists exactly the fake's pages;
 * merged, its runs cover the same bytes, are maximal, and ranges clip.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { MemweaveError } from '../errors/index.js'
import { hex, physAddr, virtAddr } from '../mem/index.js'
import { FakePageTables } from './fake-page-tables.js'
import type { FakeMapping } from './fake-page-tables.js'
import { X64_4LEVEL, X64_5LEVEL } from './paging-mode.js'
import type { PagingMode } from './paging-mode.js'
import { walkMappings } from './walk-mappings.js'
import type { MappingRun } from './walk-mappings.js'

const MODES: PagingMode[] = [X64_4LEVEL, X64_5LEVEL]

function asRun(m: FakeMapping): MappingRun {
  return { virt: virtAddr(m.virt), phys: physAddr(m.phys), sizeBytes: BigInt(m.pageBytes), writable: m.writable, user: m.user, executable: m.executable }
}

function plain(runs: readonly MappingRun[]): object[] {
  return runs.map((r) => ({ virt: hex(r.virt), phys: hex(r.phys), size: hex(r.sizeBytes), perms: `${+r.writable}${+r.user}${+r.executable}` }))
}

function samePerms(a: MappingRun, b: MappingRun): boolean {
  return a.writable === b.writable && a.user === b.user && a.executable === b.executable
}

describe('walkMappings against the fake', () => {
  for (const mode of MODES) {
    it(`${mode.name}: unmerged, lists exactly the fake's pages in order`, async () => {
      await fc.assert(fc.asyncProperty(fc.integer(), fc.integer({ min: 0, max: 300 }), async (seed, pages) => {
        const fake = new FakePageTables(mode, { seed })
        fake.populate(pages)
        const walk = await walkMappings(fake.mem, fake.dtb, mode, undefined, { merge: false })
        assert.equal(walk.truncated, false)
        assert.equal(walk.badEntries, 0)
        assert.deepEqual(plain(walk.runs), plain(fake.mappings().map(asRun)))
      }), { numRuns: 25 })
    })

    it(`${mode.name}: merged runs cover the same bytes and are maximal`, async () => {
      await fc.assert(fc.asyncProperty(fc.integer(), async (seed) => {
        const fake = new FakePageTables(mode, { seed })
        fake.populate(300)
        const { runs } = await walkMappings(fake.mem, fake.dtb, mode)
        const total = runs.reduce((sum, r) => sum + r.sizeBytes, 0n)
        assert.equal(total, fake.mappings().reduce((sum, m) => sum + BigInt(m.pageBytes), 0n))
        for (const m of fake.mappings()) {
          const run = runs.find((r) => m.virt >= r.virt && m.virt < r.virt + r.sizeBytes)
          assert.ok(run !== undefined, `no run for ${hex(m.virt)}`)
          assert.equal(run.phys + (m.virt - run.virt), m.phys)
          assert.ok(samePerms(run, asRun(m)))
        }
        for (let k = 1; k < runs.length; k++) {
          const [a, b] = [runs[k - 1]!, runs[k]!]
          assert.ok(a.virt + a.sizeBytes <= b.virt, 'sorted and disjoint')
          const mergeable = a.virt + a.sizeBytes === b.virt && a.phys + a.sizeBytes === b.phys && samePerms(a, b)
          assert.ok(!mergeable, `runs at ${hex(a.virt)} and ${hex(b.virt)} should have merged`)
        }
      }), { numRuns: 20 })
    })

    it(`${mode.name}: a range lists only overlapping pages, clipped to it`, async () => {
      await fc.assert(fc.asyncProperty(fc.integer(), fc.integer({ min: 0, max: 0xfff }), fc.integer({ min: 1, max: 2 ** 24 }), async (seed, offset, length) => {
        const fake = new FakePageTables(mode, { seed })
        fake.populate(200)
        const all = fake.mappings()
        const anchor = all[fake.int(all.length)]!
        const start = anchor.virt + BigInt(offset)
        const end = start + BigInt(length)
        const walk = await walkMappings(fake.mem, fake.dtb, mode, { start, end }, { merge: false })
        const expected = all.filter((m) => m.virt < end && m.virt + BigInt(m.pageBytes) > start).map((m) => {
          const from = m.virt > start ? m.virt : start
          const to = m.virt + BigInt(m.pageBytes) < end ? m.virt + BigInt(m.pageBytes) : end
          return { ...asRun(m), virt: virtAddr(from), phys: physAddr(m.phys + (from - m.virt)), sizeBytes: to - from }
        })
        assert.deepEqual(plain(walk.runs), plain(expected))
      }), { numRuns: 25 })
    })
  }

  it('never merges across the canonical hole', async () => {
    const fake = new FakePageTables(X64_4LEVEL, { seed: 33, openTables: true })
    const perms = { writable: true, user: false, executable: false }
    assert.ok(fake.map(0x7fff_ffff_f000n, 0x1_0000_0000n, 4096, perms))
    assert.ok(fake.map(0xffff_8000_0000_0000n, 0x1_0000_1000n, 4096, perms))
    const { runs } = await walkMappings(fake.mem, fake.dtb, X64_4LEVEL)
    assert.deepEqual(runs.map((r) => [r.virt, r.sizeBytes]), [[0x7fff_ffff_f000n, 4096n], [0xffff_8000_0000_0000n, 4096n]])
  })

  it('an empty or inverted range lists nothing', async () => {
    const fake = new FakePageTables(X64_4LEVEL, { seed: 31 })
    fake.populate(20)
    assert.deepEqual((await walkMappings(fake.mem, fake.dtb, X64_4LEVEL, { start: 0x5000n, end: 0x5000n })).runs, [])
    assert.deepEqual((await walkMappings(fake.mem, fake.dtb, X64_4LEVEL, { start: 0x9000n, end: 0x5000n })).runs, [])
  })

  it('a root beyond physical memory is an out_of_bounds error', async () => {
    const fake = new FakePageTables(X64_4LEVEL, { seed: 32 })
    await assert.rejects(walkMappings(fake.mem, physAddr(1n << 40n), X64_4LEVEL),
      (err: unknown) => err instanceof MemweaveError && err.kind === 'out_of_bounds' && /0x10000000000/.test(err.message))
  })
})
