/**
 * AArch64 stage-1 translation against the seeded fake's own lookup, for every
 * granule and VA size Linux configures: TTBR0/TTBR1 roots (with ASID and CnP
 * bits in the TTBR values), pages, blocks, contiguous runs, AP/DBM/UXN/PXN,
 * 52-bit output addresses; batched like x86-64 (one mem.read per level);
 * walkMappings over both halves; reserved descriptors refused.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { virtAddr } from '../mem/index.js'
import type { VirtAddr } from '../mem/index.js'
import { AARCH64_4K_48, AARCH64_MODES } from './aarch64-modes.js'
import { FakeAarch64Tables } from './fake-aarch64-tables.js'
import { PageTableCache, TranslationCache } from './table-cache.js'
import { PageTranslator } from './translator.js'
import { walkMappings } from './walk-mappings.js'

function sample(fake: FakeAarch64Tables, count: number): VirtAddr[] {
  const maps = fake.mappings()
  const out: VirtAddr[] = []
  for (let i = 0; i < count; i++) {
    const m = maps[fake.int(maps.length)]
    if (m !== undefined && fake.random() < 0.75) out.push(virtAddr(m.virt + BigInt(fake.int(m.pageBytes))))
    else out.push(virtAddr(fake.randomVirt(fake.random() < 0.5, fake.mode.pageBytes) + BigInt(fake.int(fake.mode.pageBytes))))
  }
  return out
}

describe('AArch64 translation against the seeded fake', () => {
  for (const mode of AARCH64_MODES) {
    it(`${mode.name}: every address as the fake mapped it (both halves, blocks, contiguous runs)`, async () => {
      for (const seed of [1, 2]) {
        const fake = new FakeAarch64Tables(mode, { seed })
        assert.ok(fake.populate(300) > 200)
        const virts = sample(fake, 400)
        for (const caches of [false, true]) {
          const translator = new PageTranslator(fake.mem, fake.ttbr0, mode, {
            upperDtb: fake.ttbr1, ...(caches ? { tableCache: new PageTableCache(), translationCache: new TranslationCache() } : {}),
          })
          const results = await translator.translate(virts)
          results.forEach((r, i) => {
            const virt = virts[i]!
            const expected = fake.lookup(virt)
            const at = `0x${virt.toString(16)}`
            if (expected === undefined) {
              assert.equal(r.ok, false, `${at} should be unmapped`)
              if (!r.ok) assert.match(r.error.message, /L-?\d entry \d+/)
              return
            }
            assert.ok(r.ok, `${at} should translate: ${r.ok ? '' : r.error.message}`)
            assert.equal(r.phys, expected.phys + (virt - expected.virt), at)
            assert.equal(r.pageSize, expected.pageBytes, at)
            assert.equal(r.writable, expected.writable, `${at} writable`)
            assert.equal(r.user, expected.user, `${at} user`)
            assert.equal(r.executable, expected.executable, `${at} executable`)
          })
        }
      }
    })
  }

  it('a batch costs one mem.read per level, whichever half its addresses are in', async () => {
    const fake = new FakeAarch64Tables(AARCH64_4K_48, { seed: 7 })
    fake.populate(400)
    const virts = fake.mappings().map((m) => virtAddr(m.virt))
    const before = fake.mem.readBatches
    await new PageTranslator(fake.mem, fake.ttbr0, AARCH64_4K_48, { upperDtb: fake.ttbr1 }).translate(virts)
    assert.equal(fake.mem.readBatches - before, AARCH64_4K_48.levels.length)
  })

  it('walkMappings lists exactly the fake mappings of both halves', async () => {
    for (const mode of AARCH64_MODES) {
      const fake = new FakeAarch64Tables(mode, { seed: 11 })
      fake.populate(150)
      const walk = await walkMappings(fake.mem, fake.ttbr0, mode, undefined, { merge: false, upperDtb: fake.ttbr1 })
      assert.equal(walk.truncated, false, `${mode.name}: ${walk.entriesVisited} entries, ${walk.problems.join('; ')}`)
      const expected = fake.mappings().map((m) => [m.virt, m.phys, BigInt(m.pageBytes), m.writable, m.user, m.executable])
      assert.deepEqual(walk.runs.map((r) => [r.virt, r.phys, r.sizeBytes, r.writable, r.user, r.executable]), expected, mode.name)
    }
  })

  it('a reserved last-level descriptor (bits 01) does not translate', async () => {
    const fake = new FakeAarch64Tables(AARCH64_4K_48, { seed: 3 })
    const page = 0xffff800012345000n
    assert.ok(fake.map(page, 0x100000000n, 4096, { writable: true, user: false, executable: false }))
    assert.ok(fake.mapReservedPage(page + 0x1000n))
    const [good, reserved] = await new PageTranslator(fake.mem, fake.ttbr0, AARCH64_4K_48, { upperDtb: fake.ttbr1 }).translate([virtAddr(page), virtAddr(page + 0x1000n)])
    assert.ok(good?.ok)
    assert.ok(reserved !== undefined && !reserved.ok)
    assert.equal(reserved.error.kind, 'unmapped')
    assert.match(reserved.error.message, /reserved \(invalid\) page descriptor/)
  })
})
