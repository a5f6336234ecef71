/**
 * translateBatch against the seeded fake's own lookup (4- and 5-level, all
 * page sizes, random permissions and noise bits), plus the batching promises:
 * one mem.read per level, each distinct entry read once, caches honoured.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { virtAddr } from '../mem/index.js'
import type { VirtAddr } from '../mem/index.js'
import { FakePageTables, PAGE_2M } from './fake-page-tables.js'
import { X64_4LEVEL, X64_5LEVEL } from './paging-mode.js'
import type { PagingMode } from './paging-mode.js'
import { PageTableCache, TranslationCache } from './table-cache.js'
import { PageTranslator, translateBatch } from './translator.js'

/** Addresses a test asks about: inside mapped pages (random offsets) and random pool addresses (often unmapped). */
function sampleAddresses(fake: FakePageTables, count: number): VirtAddr[] {
  const maps = fake.mappings()
  const out: VirtAddr[] = []
  for (let i = 0; i < count; i++) {
    const m = maps[fake.int(maps.length)]
    if (m !== undefined && fake.random() < 0.7) out.push(virtAddr(m.virt + BigInt(fake.int(m.pageBytes))))
    else out.push(virtAddr(fake.randomVirt() + BigInt(fake.int(4096))))
  }
  return out
}

async function checkAgainstOracle(mode: PagingMode, seed: number, pages: number, withCaches: boolean): Promise<void> {
  const fake = new FakePageTables(mode, { seed })
  fake.populate(pages)
  const virts = sampleAddresses(fake, 300)
  const options = withCaches ? { tableCache: new PageTableCache(), translationCache: new TranslationCache() } : {}
  // Twice: the second pass answers from the caches when they are on.
  for (let pass = 0; pass < 2; pass++) {
    const results = await translateBatch(fake.mem, fake.dtb, mode, virts, options)
    assert.equal(results.length, virts.length)
    results.forEach((r, i) => {
      const virt = virts[i]!
      const expected = fake.lookup(virt)
      if (expected === undefined) {
        assert.equal(r.ok, false, `0x${virt.toString(16)} should be unmapped`)
        if (!r.ok) {
          assert.equal(r.error.kind, 'unmapped')
          assert.match(r.error.message, new RegExp(`0x${virt.toString(16)}`))
          assert.match(r.error.message, /(PML5|PML4|PDPT|PD|PT) entry \d+/)
        }
        return
      }
      assert.ok(r.ok, `0x${virt.toString(16)} should translate: ${r.ok ? '' : r.error.message}`)
      assert.equal(r.phys, expected.phys + (virt - expected.virt))
      assert.equal(r.pageSize, expected.pageBytes)
      assert.equal(r.writable, expected.writable)
      assert.equal(r.user, expected.user)
      assert.equal(r.executable, expected.executable)
    })
  }
}

describe('translateBatch against the fake', () => {
  for (const mode of [X64_4LEVEL, X64_5LEVEL]) {
    it(`${mode.name}: agrees with the fake's lookup (no caches)`, async () => {
      await fc.assert(fc.asyncProperty(fc.integer(), fc.integer({ min: 1, max: 400 }), (seed, pages) =>
        checkAgainstOracle(mode, seed, pages, false)), { numRuns: 25 })
    })
    it(`${mode.name}: agrees with the fake's lookup (table and translation caches)`, async () => {
      await fc.assert(fc.asyncProperty(fc.integer(), fc.integer({ min: 1, max: 400 }), (seed, pages) =>
        checkAgainstOracle(mode, seed, pages, true)), { numRuns: 25 })
    })
  }
})

describe('batching', () => {
  it('reads each level with one mem.read, each distinct entry once', async () => {
    const fake = new FakePageTables(X64_4LEVEL, { seed: 7 })
    const base = 0x7f0000000000n
    for (let i = 0n; i < 64n; i++) assert.ok(fake.map(base + i * 4096n, 0x100000000n + i * 4096n, 4096, { writable: true, user: true, executable: false }))
    const virts = Array.from({ length: 64 * 8 }, (_, i) => virtAddr(base + BigInt(Math.floor(i / 8)) * 4096n + BigInt(i % 8) * 8n))
    const before = { batches: fake.mem.readBatches, pieces: fake.mem.readPieces }
    const results = await translateBatch(fake.mem, fake.dtb, X64_4LEVEL, virts)
    assert.ok(results.every((r) => r.ok))
    assert.equal(fake.mem.readBatches - before.batches, 4, 'one read per level')
    // 1 PML4 + 1 PDPT + 1 PD entry, and 64 distinct PT entries.
    assert.equal(fake.mem.readPieces - before.pieces, 3 + 64)
  })

  it('with a table cache, reads each table page once and then nothing', async () => {
    const fake = new FakePageTables(X64_5LEVEL, { seed: 8 })
    fake.populate(200)
    const virts = sampleAddresses(fake, 500)
    const tableCache = new PageTableCache()
    const translator = new PageTranslator(fake.mem, fake.dtb, X64_5LEVEL, { tableCache })
    const first = await translator.translate(virts)
    const batches = fake.mem.readBatches
    const second = await translator.translate(virts)
    assert.equal(fake.mem.readBatches, batches, 'warm table cache reads nothing')
    assert.deepEqual(second, first)
    assert.ok(tableCache.stats().hits > 0)
  })

  it('translation cache answers repeated pages without walking; failures are not cached', async () => {
    const fake = new FakePageTables(X64_4LEVEL, { seed: 9 })
    fake.populate(50)
    const mapped = fake.mappings()[0]!
    const translationCache = new TranslationCache({ maxEntries: 4 })
    const translator = new PageTranslator(fake.mem, fake.dtb, X64_4LEVEL, { translationCache })
    const unmapped = virtAddr(0x1000n)
    await translator.translate([virtAddr(mapped.virt), unmapped])
    const batches = fake.mem.readBatches
    const [hit, miss] = await translator.translate([virtAddr(mapped.virt + 8n), unmapped])
    assert.ok(hit?.ok)
    assert.equal(miss?.ok, false)
    assert.ok(fake.mem.readBatches > batches, 'the unmapped address was walked again')
    assert.ok(translationCache.stats().entries <= 4)
  })

  it('many addresses in one 2 MiB page share every entry', async () => {
    const fake = new FakePageTables(X64_4LEVEL, { seed: 10 })
    assert.ok(fake.map(0x40000000n, 0x200000000n, PAGE_2M, { writable: false, user: false, executable: true }))
    const virts = Array.from({ length: 512 }, (_, i) => virtAddr(0x40000000n + BigInt(i) * 4096n + 5n))
    const before = fake.mem.readPieces
    const results = await translateBatch(fake.mem, fake.dtb, X64_4LEVEL, virts)
    assert.equal(fake.mem.readPieces - before, 3)
    results.forEach((r, i) => {
      assert.ok(r.ok)
      assert.equal(r.phys, 0x200000000n + BigInt(i) * 4096n + 5n)
      assert.equal(r.pageSize, PAGE_2M)
    })
  })

  it('an empty batch reads nothing', async () => {
    const fake = new FakePageTables(X64_4LEVEL, { seed: 11 })
    const before = fake.mem.readBatches
    assert.deepEqual(await translateBatch(fake.mem, fake.dtb, X64_4LEVEL, []), [])
    assert.equal(fake.mem.readBatches, before)
  })
})
