/**
 * VirtualAddressSpace against the fake: random batches of pieces (crossing
 * pages, large pages, unmapped holes) read and written through the real
 * translator and compared with the fake's lookup plus the raw physical bytes.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { hex, physAddr, virtAddr } from '../mem/index.js'
import type { PieceResult, ReadPiece, VirtAddr } from '../mem/index.js'
import { FakePageTables, PAGE_2M } from './fake-page-tables.js'
import { isCanonical, X64_4LEVEL, X64_5LEVEL } from './paging-mode.js'
import { LIVE_CACHE_MS } from './table-cache.js'
import { VirtualAddressSpace } from './virtual-address-space.js'

const RW = { writable: true, user: true, executable: false }

/** What the fake says a read must return: the bytes, or the error kind and the address it must name. */
function expectedRead(fake: FakePageTables, addr: bigint, length: number): { data: Uint8Array } | { kind: string; at: bigint } {
  for (const a of [addr, addr + BigInt(Math.max(length, 1) - 1)]) if (length > 0 && !isCanonical(fake.mode, a)) return { kind: 'out_of_bounds', at: -1n }
  const data = new Uint8Array(length)
  let done = 0
  while (done < length) {
    const virt = addr + BigInt(done)
    const m = fake.lookup(virt)
    if (m === undefined) return { kind: 'unmapped', at: virt }
    const n = Math.min(4096 - Number(virt % 4096n), length - done)
    fake.mem.peek(Number(m.phys + (virt - m.virt)), data.subarray(done, done + n))
    done += n
  }
  return { data }
}

function randomPieces(fake: FakePageTables, count: number): ReadPiece<VirtAddr>[] {
  const maps = fake.mappings()
  const lengths = [0, 1, 8, 100, 4095, 4096, 5000, 3 * 4096 + 7]
  return Array.from({ length: count }, () => {
    const m = maps[fake.int(maps.length)]!
    const base = fake.random() < 0.85 ? m.virt + BigInt(fake.int(m.pageBytes + 4096)) - 2048n : fake.randomVirt()
    return { addr: virtAddr(base < 0n ? 0n : base), length: lengths[fake.int(lengths.length)]! }
  })
}

function checkRead(fake: FakePageTables, piece: ReadPiece<VirtAddr>, result: PieceResult | undefined): void {
  const expected = expectedRead(fake, piece.addr, piece.length)
  assert.ok(result !== undefined)
  if ('data' in expected) {
    assert.ok(result.ok, `read ${hex(piece.addr)}+${piece.length}: ${result.ok ? '' : result.error.message}`)
    assert.deepEqual(result.data, expected.data)
    return
  }
  assert.ok(!result.ok, `read ${hex(piece.addr)}+${piece.length} should fail`)
  assert.equal(result.error.kind, expected.kind)
  if (expected.at >= 0n) assert.match(result.error.message, new RegExp(`virtual address ${hex(expected.at)}\\b`))
}

describe('VirtualAddressSpace reads against the fake', () => {
  for (const mode of [X64_4LEVEL, X64_5LEVEL]) {
    it(`${mode.name}: every piece matches the fake, failures are per piece`, async () => {
      await fc.assert(fc.asyncProperty(fc.integer(), fc.boolean(), async (seed, caches) => {
        const fake = new FakePageTables(mode, { seed, fill: 'pattern' })
        fake.populate(150)
        const vas = new VirtualAddressSpace(fake.mem, fake.dtb, mode, caches ? {} : { tableCache: false, translationCache: false })
        for (let round = 0; round < 2; round++) {
          const pieces = randomPieces(fake, 40)
          const results = await vas.read(pieces)
          assert.equal(results.length, pieces.length)
          pieces.forEach((piece, i) => checkRead(fake, piece, results[i]))
        }
      }), { numRuns: 30 })
    })
  }

  it('a batch where half the pieces are unmapped: the other half still succeeds', async () => {
    const fake = new FakePageTables(X64_4LEVEL, { seed: 21, fill: 'pattern' })
    for (let i = 0n; i < 16n; i++) assert.ok(fake.map(0x10000000n + i * 0x2000n, 0x100000000n + i * 4096n, 4096, RW))
    // Even pages mapped, odd pages not: pieces alternate.
    const pieces = Array.from({ length: 32 }, (_, i) => ({ addr: virtAddr(0x10000000n + BigInt(i) * 0x1000n + 16n), length: 64 }))
    const results = await new VirtualAddressSpace(fake.mem, fake.dtb, X64_4LEVEL).read(pieces)
    results.forEach((r, i) => {
      assert.equal(r.ok, i % 2 === 0)
      checkRead(fake, pieces[i]!, r)
    })
  })

  it('a piece running into an unmapped page names the first unmapped byte', async () => {
    const fake = new FakePageTables(X64_4LEVEL, { seed: 22 })
    assert.ok(fake.map(0x5000n, 0x100000000n, 4096, RW))
    const [r] = await new VirtualAddressSpace(fake.mem, fake.dtb, X64_4LEVEL).read([{ addr: virtAddr(0x5ff0n), length: 64 }])
    assert.ok(r !== undefined && !r.ok)
    assert.equal(r.error.kind, 'unmapped')
    assert.match(r.error.message, /virtual address 0x6000 is not mapped/)
  })

  it('one translation pass and one physical read per batch; contiguous fragments coalesce', async () => {
    const fake = new FakePageTables(X64_4LEVEL, { seed: 23, fill: 'pattern' })
    assert.ok(fake.map(0x40000000n, 0x200000000n, PAGE_2M, RW))
    for (let i = 0n; i < 8n; i++) assert.ok(fake.map(0x7000_0000n + i * 4096n, 0x300000000n + i * 4096n, 4096, RW))
    const vas = new VirtualAddressSpace(fake.mem, fake.dtb, X64_4LEVEL)
    const pieces = [
      { addr: virtAddr(0x40000100n), length: 5 * 4096 }, // 6 pages of one 2 MiB page: one fragment
      { addr: virtAddr(0x7000_0010n), length: 7 * 4096 }, // 8 small pages, physically contiguous: one fragment
      { addr: virtAddr(0x40100000n), length: 16 },
    ]
    await vas.read(pieces) // warms the caches
    const before = { batches: fake.mem.readBatches, pieces: fake.mem.readPieces }
    const results = await vas.read(pieces)
    assert.equal(fake.mem.readBatches - before.batches, 1)
    assert.equal(fake.mem.readPieces - before.pieces, 3)
    pieces.forEach((p, i) => checkRead(fake, p, results[i]))
  })

  it('refuses non-canonical pieces, pieces crossing the hole, bad lengths; zero length is empty', async () => {
    const fake = new FakePageTables(X64_4LEVEL, { seed: 24 })
    const vas = new VirtualAddressSpace(fake.mem, fake.dtb, X64_4LEVEL)
    const results = await vas.read([
      { addr: virtAddr(0x8000_0000_0000n), length: 1 },
      { addr: virtAddr(0x7fff_ffff_fff0n), length: 32 },
      { addr: virtAddr(0xffff_ffff_ffff_fff0n), length: 32 },
      { addr: virtAddr(0x1000n), length: -1 },
      { addr: virtAddr(0x1000n), length: 0 },
    ])
    const kinds = results.map((r) => (r.ok ? `ok:${r.data.length}` : r.error.kind))
    assert.deepEqual(kinds, ['out_of_bounds', 'out_of_bounds', 'out_of_bounds', 'invalid_argument', 'ok:0'])
    assert.match(results[1]!.ok ? '' : results[1]!.error.message, /0x800000000000/)
  })

  it('metadata: 2^48 or 2^57, volatile and readonly from the physical memory', () => {
    const fake = new FakePageTables(X64_5LEVEL, { seed: 25 })
    const meta = new VirtualAddressSpace(fake.mem, fake.dtb, X64_5LEVEL).metadata()
    assert.equal(meta.maxAddress, 1n << 57n)
    assert.equal(meta.readonly, false)
    assert.equal(meta.volatile, false)
    assert.equal(new VirtualAddressSpace(fake.mem, fake.dtb, X64_4LEVEL).metadata().maxAddress, 1n << 48n)
    assert.ok(LIVE_CACHE_MS > 0)
  })
})

describe('VirtualAddressSpace writes', () => {
  for (const mode of [X64_4LEVEL, X64_5LEVEL]) {
    it(`${mode.name}: written bytes land at the fake's physical addresses`, async () => {
      await fc.assert(fc.asyncProperty(fc.integer(), async (seed) => {
        const fake = new FakePageTables(mode, { seed, fill: 'pattern' })
        fake.populate(100)
        const vas = new VirtualAddressSpace(fake.mem, fake.dtb, mode)
        for (const piece of randomPieces(fake, 20)) {
          const data = Uint8Array.from({ length: piece.length }, () => fake.int(256))
          const [r] = await vas.write([{ addr: piece.addr, data }])
          const expected = expectedRead(fake, piece.addr, piece.length)
          assert.ok(r !== undefined)
          assert.equal(r.ok, 'data' in expected)
          if (r.ok) assert.deepEqual(expectedRead(fake, piece.addr, piece.length), { data })
        }
      }), { numRuns: 20 })
    })
  }

  it('read-only physical memory: every piece fails with permission', async () => {
    const fake = new FakePageTables(X64_4LEVEL, { seed: 26, readonly: true })
    assert.ok(fake.map(0x1000n, 0x100000000n, 4096, RW))
    assert.equal(new VirtualAddressSpace(fake.mem, fake.dtb, X64_4LEVEL).metadata().readonly, true)
    const results = await new VirtualAddressSpace(fake.mem, fake.dtb, X64_4LEVEL).write([{ addr: virtAddr(0x1000n), data: new Uint8Array(4) }])
    assert.equal(results[0]?.ok, false)
    assert.equal(results[0]?.ok === false ? results[0].error.kind : '', 'permission')
  })

  for (const tableCache of [undefined, false] as const) {
    it(`a write into a page table changes later translations (table cache ${tableCache === false ? 'off' : 'on'}, TLB on)`, async () => {
      const fake = new FakePageTables(X64_4LEVEL, { seed: 27, noise: false })
      assert.ok(fake.map(0x200000n, 0x100000000n, 4096, RW))
      const pt = fake.leafTable(0x200000n)
      assert.ok(pt !== undefined)
      // Map the PT page itself at 0x201000 so the guest can edit its own tables.
      assert.ok(fake.map(0x201000n, BigInt(pt), 4096, RW))
      const vas = new VirtualAddressSpace(fake.mem, fake.dtb, X64_4LEVEL, { tableCache })
      const [before] = await vas.translate([virtAddr(0x200000n)])
      assert.equal(before?.ok === true ? before.phys : 0n, physAddr(0x100000000n))
      const entry = new Uint8Array(8)
      new DataView(entry.buffer).setBigUint64(0, 0x180000000n | 0x7n, true)
      const [w] = await vas.write([{ addr: virtAddr(0x201000n), data: entry }]) // PT entry 0 -> 0x1_8000_0000
      assert.ok(w?.ok)
      const [after] = await vas.translate([virtAddr(0x200000n)])
      assert.equal(after?.ok === true ? after.phys : 0n, physAddr(0x180000000n))
    })
  }
})

