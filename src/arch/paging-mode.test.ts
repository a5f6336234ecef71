/**
 * The paging tables themselves: layout of X64_4LEVEL / X64_5LEVEL, canonical
 * addresses, and hand-encoded entries decoded bit by bit (ignored, PAT,
 * protection-key and reserved bits) through the real walker.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { physAddr, virtAddr } from '../mem/index.js'
import { compileMode, entryAddress, entryFlags, FLAG_EXECUTABLE, FLAG_USER, FLAG_WRITABLE, largePageBase } from './entry-format.js'
import { FakePageTables } from './fake-page-tables.js'
import { addressSpaceBytes, canonicalFromLinear, isCanonical, linearFromCanonical, X64_4LEVEL, X64_5LEVEL } from './paging-mode.js'
import type { PagingMode } from './paging-mode.js'
import { rootFromDtb, translateBatch } from './translator.js'

const MODES = [X64_4LEVEL, X64_5LEVEL]

describe('mode tables', () => {
  for (const mode of MODES) {
    it(`${mode.name}: index fields tile bits 12..${mode.virtualBits - 1}`, () => {
      let bit = mode.virtualBits
      for (const level of mode.levels) {
        assert.equal(level.indexShift + level.indexBits, bit, `${level.name} ends where the level above starts`)
        bit = level.indexShift
      }
      assert.equal(bit, 12)
      assert.equal(addressSpaceBytes(mode), 1n << BigInt(mode.virtualBits))
    })
    it(`${mode.name}: large pages only at PDPT (1 GiB) and PD (2 MiB)`, () => {
      const large = mode.levels.filter((l) => l.largePageBytes !== undefined).map((l) => [l.name, l.largePageBytes])
      assert.deepEqual(large, [['PDPT', 2 ** 30], ['PD', 2 ** 21]])
      assert.equal(mode.levels[mode.levels.length - 1]?.name, 'PT')
    })
  }
  it('5-level adds PML5 above PML4', () => {
    assert.deepEqual(X64_5LEVEL.levels.map((l) => l.name), ['PML5', 'PML4', 'PDPT', 'PD', 'PT'])
    assert.deepEqual(X64_4LEVEL.levels.map((l) => l.name), ['PML4', 'PDPT', 'PD', 'PT'])
  })
})

describe('entry decoding', () => {
  const c = compileMode(X64_4LEVEL)
  it('address is bits 12..51; flags, ignored, protection-key and NX bits are masked off', () => {
    // Every non-address bit set (flags 0..11, ignored 52..58, keys 59..62, NX 63), address 0xA_BCDE_F000.
    assert.equal(entryAddress(c, 0xbcdef000 | 0xfff, 0xfff00000 | 0xa), 0xa_bcde_f000)
    assert.equal(entryAddress(c, 0xfffff000, 0x000fffff), 2 ** 52 - 4096)
    assert.equal(entryAddress(c, 0x00000fff, 0xfff00000), 0)
  })
  it('writable bit 1, user bit 2, NX bit 63', () => {
    assert.equal(entryFlags(c, 0b011, 0), FLAG_WRITABLE | FLAG_EXECUTABLE)
    assert.equal(entryFlags(c, 0b101, 0), FLAG_USER | FLAG_EXECUTABLE)
    assert.equal(entryFlags(c, 0b111, 0x80000000), FLAG_WRITABLE | FLAG_USER)
    assert.equal(entryFlags(c, 0b001, 0x7fffffff), FLAG_EXECUTABLE, 'bits 32..62 are not NX')
  })
  it('large pages: the PAT bit (12) is not address; other bits below the page size are reserved', () => {
    assert.equal(largePageBase(c, 0x40000000 + 0x1000, 2 ** 30), 0x40000000)
    assert.equal(largePageBase(c, 0x40200000, 2 ** 21), 0x40200000)
    assert.equal(largePageBase(c, 0x40202000, 2 ** 21), -1)
    assert.equal(largePageBase(c, 0x40200000, 2 ** 30), -1)
  })
  it('the root comes from CR3 without PCID and flag bits', () => {
    assert.equal(rootFromDtb(X64_4LEVEL, 0x8000_0000_1234_5fffn), 0x1234_5000)
  })
})

describe('canonical addresses', () => {
  it('4-level: sign-extended from bit 47', () => {
    const m = X64_4LEVEL
    assert.ok(isCanonical(m, 0n))
    assert.ok(isCanonical(m, 0x7fff_ffff_ffffn))
    assert.ok(!isCanonical(m, 0x8000_0000_0000n))
    assert.ok(!isCanonical(m, 0xffff_7fff_ffff_ffffn))
    assert.ok(isCanonical(m, 0xffff_8000_0000_0000n))
    assert.ok(isCanonical(m, 0xffff_ffff_ffff_ffffn))
    assert.ok(!isCanonical(m, -1n))
    assert.ok(!isCanonical(m, 1n << 64n))
  })
  it('5-level: sign-extended from bit 56', () => {
    const m = X64_5LEVEL
    assert.ok(isCanonical(m, 0x00ff_ffff_ffff_ffffn))
    assert.ok(!isCanonical(m, 0x0100_0000_0000_0000n))
    assert.ok(isCanonical(m, 0xff00_0000_0000_0000n))
    assert.ok(isCanonical(m, 0xffff_8000_0000_0000n), 'a 4-level kernel address is canonical under LA57 too')
  })
  for (const mode of MODES) {
    it(`${mode.name}: linear and canonical numbering round-trip and keep order`, () => {
      const space = 1n << BigInt(mode.virtualBits)
      fc.assert(fc.property(fc.bigInt({ min: 0n, max: space - 1n }), fc.bigInt({ min: 0n, max: space - 1n }), (a, b) => {
        const ca = canonicalFromLinear(mode, a)
        assert.ok(isCanonical(mode, ca))
        assert.equal(linearFromCanonical(mode, ca), a)
        assert.equal(a < b, ca < canonicalFromLinear(mode, b))
      }))
    })
    it(`${mode.name}: a non-canonical address fails with out_of_bounds naming it`, async () => {
      const fake = new FakePageTables(mode, { seed: 1 })
      const bad = 1n << BigInt(mode.virtualBits - 1)
      const [r] = await translateBatch(fake.mem, fake.dtb, mode, [virtAddr(bad + 0x123n)])
      assert.ok(r !== undefined && !r.ok)
      assert.equal(r.error.kind, 'out_of_bounds')
      assert.match(r.error.message, new RegExp((bad + 0x123n).toString(16)))
    })
  }
})

/** A canonical address from per-level indices (root first) and a page offset. */
function virtFrom(mode: PagingMode, indices: readonly number[], offset = 0): bigint {
  let linear = BigInt(offset)
  indices.forEach((index, li) => { linear |= BigInt(index) << BigInt(mode.levels[li]!.indexShift) })
  return canonicalFromLinear(mode, linear)
}

describe('hand-built walks', () => {
  it('4 KiB PTE with bit 7 set is PAT, not a large page', async () => {
    const fake = new FakePageTables(X64_4LEVEL, { seed: 2, noise: false })
    const root = Number(fake.dtb)
    const [pdpt, pd, pt] = [fake.allocTable(), fake.allocTable(), fake.allocTable()]
    fake.setEntry(root, 300, pdpt | 0x7, 0)
    fake.setEntry(pdpt, 1, pd | 0x7, 0)
    fake.setEntry(pd, 2, pt | 0x7, 0)
    fake.setEntry(pt, 3, (0x5000 | 0x80 | 0x5) >>> 0, 0x80000001) // PAT, user, read-only, NX, phys 0x1_0000_5000
    const virt = virtFrom(X64_4LEVEL, [300, 1, 2, 3], 0x123)
    assert.ok(virt >= 0xffff_8000_0000_0000n)
    const [r] = await translateBatch(fake.mem, fake.dtb, X64_4LEVEL, [virtAddr(virt)])
    assert.deepEqual(r, { ok: true, phys: physAddr(0x1_0000_5123n), pageSize: 4096, writable: false, user: true, executable: false })
  })
  it('permissions combine over levels: writable and user AND, NX OR', async () => {
    const fake = new FakePageTables(X64_4LEVEL, { seed: 3, noise: false })
    const root = Number(fake.dtb)
    const pdpt = fake.allocTable()
    fake.setEntry(root, 0, pdpt | 0x3, 0x80000000) // not user, NX at PML4
    fake.setEntry(pdpt, 0, 0x40000000 | 0x87, 0) // 1 GiB page, user+writable
    const [r] = await translateBatch(fake.mem, fake.dtb, X64_4LEVEL, [virtAddr(0x1234_5678n)])
    assert.deepEqual(r, { ok: true, phys: physAddr(0x5234_5678n), pageSize: 2 ** 30, writable: true, user: false, executable: false })
  })
  it('large-page bit at PML4 is reserved: malformed, naming the level', async () => {
    const fake = new FakePageTables(X64_4LEVEL, { seed: 4, noise: false })
    fake.setEntry(Number(fake.dtb), 1, 0x80 | 0x1, 0)
    const [r] = await translateBatch(fake.mem, fake.dtb, X64_4LEVEL, [virtAddr(virtFrom(X64_4LEVEL, [1, 0, 0, 0]))])
    assert.ok(r !== undefined && !r.ok)
    assert.equal(r.error.kind, 'malformed')
    assert.match(r.error.message, /PML4 entry 1 .*reserved large-page bit/)
  })
  it('a 2 MiB entry with reserved address bits set is malformed', async () => {
    const fake = new FakePageTables(X64_4LEVEL, { seed: 5, noise: false })
    const root = Number(fake.dtb)
    const [pdpt, pd] = [fake.allocTable(), fake.allocTable()]
    fake.setEntry(root, 0, pdpt | 0x7, 0)
    fake.setEntry(pdpt, 0, pd | 0x7, 0)
    fake.setEntry(pd, 0, 0x20_4000 | 0x87, 0) // bit 14 set: reserved for a 2 MiB page
    fake.setEntry(pd, 1, 0x20_1000 | 0x87, 0) // bit 12 only: PAT, fine
    const [bad, good] = await translateBatch(fake.mem, fake.dtb, X64_4LEVEL, [virtAddr(0x10n), virtAddr(0x20_0010n)])
    assert.ok(bad !== undefined && !bad.ok)
    assert.equal(bad.error.kind, 'malformed')
    assert.match(bad.error.message, /PD entry 0/)
    assert.deepEqual(good, { ok: true, phys: physAddr(0x20_0010n), pageSize: 2 ** 21, writable: true, user: true, executable: true })
  })
  it('5-level walks through PML5', async () => {
    const fake = new FakePageTables(X64_5LEVEL, { seed: 6, noise: false })
    const tables = [Number(fake.dtb), fake.allocTable(), fake.allocTable(), fake.allocTable(), fake.allocTable()]
    const indices = [257, 9, 8, 7, 6]
    for (let li = 0; li < 4; li++) fake.setEntry(tables[li]!, indices[li]!, tables[li + 1]! | 0x7, 0)
    fake.setEntry(tables[4]!, 6, 0x9000 | 0x3, 0)
    const virt = virtFrom(X64_5LEVEL, indices, 0xabc)
    assert.equal(virt >> 56n, 0xffn)
    const [r] = await translateBatch(fake.mem, fake.dtb, X64_5LEVEL, [virtAddr(virt)])
    assert.deepEqual(r, { ok: true, phys: physAddr(0x9abcn), pageSize: 4096, writable: true, user: false, executable: true })
  })
})
