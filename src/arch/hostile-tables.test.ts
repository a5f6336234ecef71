/**
 * Hostile and garbage page tables: a recursive (self-referencing) PML4 slot,
 * one table referenced from everywhere (512^4 mappings), tables and pages
 * beyond physical memory, reserved bits, and page tables made of noise. The
 * walker must stay correct where the tables are legitimate and bounded and
 * clear where they are not.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MemweaveError } from '../errors/index.js'
import { hex, physAddr, virtAddr } from '../mem/index.js'
import { FakePageTables } from './fake-page-tables.js'
import { canonicalFromLinear, X64_4LEVEL } from './paging-mode.js'
import { translateBatch } from './translator.js'
import { VirtualAddressSpace } from './virtual-address-space.js'
import { walkMappings } from './walk-mappings.js'

const mode = X64_4LEVEL

function virtFrom(indices: readonly number[], offset = 0): bigint {
  let linear = BigInt(offset)
  indices.forEach((index, li) => { linear |= BigInt(index) << BigInt(mode.levels[li]!.indexShift) })
  return canonicalFromLinear(mode, linear)
}

function indicesOf(virt: bigint): number[] {
  return mode.levels.map((level) => Number((virt >> BigInt(level.indexShift)) & 511n))
}

describe('recursive page-table slot', () => {
  const fake = new FakePageTables(mode, { seed: 41, noise: false })
  fake.populate(120)
  const root = Number(fake.dtb)
  const used = new Set(fake.mappings().map((m) => indicesOf(m.virt)[0]))
  const slot = [510, 509, 508, 507].find((i) => !used.has(i))!
  fake.setEntry(root, slot, root | 0x3, 0) // supervisor, writable: the way Windows maps its tables

  it('still translates the ordinary mappings', async () => {
    const maps = fake.mappings()
    const results = await translateBatch(fake.mem, fake.dtb, mode, maps.map((m) => virtAddr(m.virt + 7n)))
    results.forEach((r, i) => assert.deepEqual(r.ok ? r.phys : r.error.message, maps[i]!.phys + 7n))
  })

  it('maps the tables themselves through the slot', async () => {
    const small = fake.mappings().find((m) => m.pageBytes === 4096)!
    const [i4, i3, i2, i1] = indicesOf(small.virt)
    const pt = fake.leafTable(small.virt)!
    const [self, pte] = await translateBatch(fake.mem, fake.dtb, mode, [
      virtAddr(virtFrom([slot, slot, slot, slot])),
      virtAddr(virtFrom([slot, i4!, i3!, i2!], i1! * 8)),
    ])
    assert.deepEqual(self, { ok: true, phys: physAddr(root), pageSize: 4096, writable: true, user: false, executable: true })
    assert.equal(pte?.ok === true ? pte.phys : -1n, BigInt(pt + i1! * 8))
    // Reading the PTE through the slot gives the fake's leaf entry: its address field is the mapping's phys.
    const [read] = await new VirtualAddressSpace(fake.mem, fake.dtb, mode).read([{ addr: virtAddr(virtFrom([slot, i4!, i3!, i2!], i1! * 8)), length: 8 }])
    assert.ok(read?.ok)
    assert.equal(new DataView(read.data.buffer, read.data.byteOffset).getBigUint64(0, true) & 0x000f_ffff_ffff_f000n, small.phys)
  })

  it('walkMappings terminates, lists the ordinary mappings and the self-map', async () => {
    const walk = await walkMappings(fake.mem, fake.dtb, mode, undefined, { merge: false })
    assert.equal(walk.truncated, false)
    const slotStart = virtFrom([slot, 0, 0, 0])
    const slotEnd = slotStart + (1n << 39n)
    const ordinary = walk.runs.filter((r) => r.virt < slotStart || r.virt >= slotEnd)
    assert.deepEqual(ordinary.map((r) => [r.virt, r.phys]), fake.mappings().map((m) => [m.virt, m.phys]))
    const selfMap = walk.runs.find((r) => r.virt === virtFrom([slot, slot, slot, slot]))
    assert.equal(selfMap?.phys, BigInt(root))
  })
})

describe('one table referenced from everywhere (512^4 mappings)', () => {
  const fake = new FakePageTables(mode, { seed: 42, noise: false })
  const root = Number(fake.dtb)
  const [pdpt, pd, pt] = [fake.allocTable(), fake.allocTable(), fake.allocTable()]
  for (let i = 0; i < 512; i++) {
    fake.setEntry(root, i, pdpt | 0x7, 0)
    fake.setEntry(pdpt, i, pd | 0x7, 0)
    fake.setEntry(pd, i, pt | 0x7, 0)
    fake.setEntry(pt, i, i * 4096 + 0x7, 1) // physical 0x1_0000_0000 + i pages
  }

  it('stops at maxEntries with truncated set, reading each table page once', async () => {
    const before = fake.mem.readPieces
    const walk = await walkMappings(fake.mem, fake.dtb, mode, undefined, { maxEntries: 50_000 })
    assert.equal(walk.truncated, true)
    assert.equal(walk.entriesVisited, 50_000)
    assert.ok(fake.mem.readPieces - before <= 4, `read ${fake.mem.readPieces - before} table pages`)
    assert.ok(walk.truncatedAt !== undefined)
    for (const r of walk.runs) assert.ok(r.virt + r.sizeBytes <= walk.truncatedAt)
    // Each PT maps 2 MiB contiguously; the next PT restarts at the same physical page.
    assert.deepEqual(walk.runs[1], { virt: 0x200000n, phys: 0x1_0000_0000n, sizeBytes: 0x200000n, writable: true, user: true, executable: true })
  })

  it('strict mode turns truncation into a limit error naming where it stopped', async () => {
    await assert.rejects(walkMappings(fake.mem, fake.dtb, mode, undefined, { maxEntries: 1000, strict: true }),
      (err: unknown) => err instanceof MemweaveError && err.kind === 'limit' && /stopped after 1000 entries at virtual 0x/.test(err.message))
  })

  it('a narrow range walks only what it needs', async () => {
    const start = virtFrom([300, 7, 0, 0])
    const walk = await walkMappings(fake.mem, fake.dtb, mode, { start, end: start + 0x400000n }, { maxEntries: 10_000 })
    assert.equal(walk.truncated, false)
    assert.ok(walk.entriesVisited < 1100)
    assert.equal(walk.runs.length, 2)
  })

  it('translation is unaffected: every address lands in the one PT', async () => {
    const virts = Array.from({ length: 2048 }, (_, i) => virtAddr(virtFrom([i % 512, (i * 7) % 512, (i * 13) % 512, (i * 31) % 512], i % 4096)))
    const results = await translateBatch(fake.mem, fake.dtb, mode, virts)
    results.forEach((r, i) => assert.equal(r.ok ? r.phys : -1n, 0x1_0000_0000n + BigInt(((i * 31) % 512) * 4096 + (i % 4096))))
  })
})

describe('garbage entries', () => {
  const fake = new FakePageTables(mode, { seed: 43, noise: false, physBits: 36 })
  const root = Number(fake.dtb)
  const [pdpt, pd, pt] = [fake.allocTable(), fake.allocTable(), fake.allocTable()]
  fake.setEntry(root, 0, pdpt | 0x7, 0)
  fake.setEntry(root, 5, 0x7, 0x100) // PDPT at 2^40: beyond the 2^36 bytes of memory
  fake.setEntry(pdpt, 0, pd | 0x7, 0)
  fake.setEntry(pdpt, 1, 0x4000_0000 | 0x2000 | 0x87, 0) // 1 GiB page with reserved bit 13
  fake.setEntry(pd, 0, pt | 0x7, 0)
  fake.setEntry(pt, 0, 0x5000 | 0x7, 0) // fine
  fake.setEntry(pt, 1, 0x7, 0x200) // a page at 2^41: MMIO-like, beyond memory

  it('a table beyond physical memory fails the walk with out_of_bounds, unread', async () => {
    const virt = virtFrom([5, 0, 0, 0], 0x10)
    const before = fake.mem.readPieces
    const [r] = await translateBatch(fake.mem, fake.dtb, mode, [virtAddr(virt)])
    assert.ok(r !== undefined && !r.ok)
    assert.equal(r.error.kind, 'out_of_bounds')
    assert.match(r.error.message, new RegExp(`virtual address ${hex(virt)}: PML4 entry 5 .* 0x10000000000, beyond the end`))
    assert.equal(fake.mem.readPieces - before, 1, 'only the PML4 entry was read')
  })

  it('a page beyond physical memory translates, and reading it fails for that piece only', async () => {
    const [r] = await translateBatch(fake.mem, fake.dtb, mode, [virtAddr(0x1008n)])
    assert.equal(r?.ok === true ? r.phys : -1n, (1n << 41n) + 8n)
    const results = await new VirtualAddressSpace(fake.mem, fake.dtb, mode).read([{ addr: virtAddr(0x1008n), length: 8 }, { addr: virtAddr(0x8n), length: 8 }])
    assert.equal(results[0]?.ok === false ? results[0].error.kind : 'ok', 'out_of_bounds')
    assert.match(results[0]?.ok === false ? results[0].error.message : '', /virtual 0x1008 \(physical 0x20000000008/)
    assert.equal(results[1]?.ok, true)
  })

  it('walkMappings skips and counts garbage, keeps the good mappings', async () => {
    const walk = await walkMappings(fake.mem, fake.dtb, mode)
    assert.equal(walk.badEntries, 2)
    assert.equal(walk.problems.length, 2)
    assert.match(walk.problems.join('\n'), /PDPT entry 1 .*reserved bits/)
    assert.match(walk.problems.join('\n'), /PML4 entry 5 .*beyond the end of physical memory/)
    assert.deepEqual(walk.runs.map((r) => [r.virt, r.phys, r.sizeBytes]), [[0n, 0x5000n, 0x1000n], [0x1000n, 1n << 41n, 0x1000n]])
  })
})

describe('page tables made of noise', () => {
  // Every unwritten frame holds pseudo-random bytes; point the root at one.
  const fake = new FakePageTables(mode, { seed: 44, fill: 'pattern' })
  const dtb = physAddr(0x2_3456_7000n)

  it('every translation ends in a result or a clear error, never a throw', async () => {
    const virts = Array.from({ length: 4000 }, () => virtAddr(virtFrom([fake.int(512), fake.int(512), fake.int(512), fake.int(512)], fake.int(4096))))
    const results = await translateBatch(fake.mem, dtb, mode, virts)
    const kinds = new Set(results.map((r) => (r.ok ? 'ok' : r.error.kind)))
    for (const kind of kinds) assert.ok(['ok', 'unmapped', 'malformed', 'out_of_bounds'].includes(kind), kind)
    assert.ok(kinds.has('out_of_bounds'), 'random table addresses mostly fall outside memory')
  })

  it('walkMappings over noise is bounded', async () => {
    const walk = await walkMappings(fake.mem, dtb, mode, undefined, { maxEntries: 20_000 })
    assert.ok(walk.entriesVisited <= 20_000)
    assert.ok(walk.badEntries > 0)
    assert.ok(walk.problems.length <= 16)
  })
})
