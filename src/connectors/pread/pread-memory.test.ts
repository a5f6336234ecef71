/**
 * PreadMemory on a real file: guest addresses through a RangeMap to file
 * positions; reads merged into few preads but never across a hole between
 * spans; gaps as zeros (or 'unmapped' when strict); a failed read isolated
 * to its piece; the owner's verdict (stale) replacing i/o errors; writes.
 * A property test checks random layouts and batches against a byte oracle.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import { MemweaveError } from '../../errors/index.js'
import { RangeMap, physAddr } from '../../mem/index.js'
import type { MappedRange } from '../../mem/index.js'
import { PreadMemory } from './pread-memory.js'
import type { PreadGuard } from './pread-memory.js'

const FILE_BYTES = 256 * 1024
const OPEN: PreadGuard = { blocked: () => undefined, readFailed: async () => undefined }

describe('PreadMemory', () => {
  let dir: string
  let path: string
  let content: Buffer
  const fds: number[] = []
  const memory = (ranges: MappedRange[], options: { strict?: boolean; writable?: boolean; guard?: PreadGuard; plainFile?: boolean } = {}): PreadMemory => {
    const fd = openSync(path, options.writable === true ? 'r+' : 'r')
    fds.push(fd)
    return new PreadMemory({ name: 'test file', fd, writable: options.writable ?? false, map: new RangeMap(ranges), strict: options.strict ?? false, volatile: true, guard: options.guard ?? OPEN,
      ...(options.plainFile === undefined ? {} : { plainFile: options.plainFile }) })
  }

  it('hands out file spans of a plain file (gaps as zero runs) and keeps the fd in use until they are released', async () => {
    const ranges = [{ start: 0x1000n, length: 0x4000n, backing: 0x8000n }, { start: 0x10000n, length: 0x1000n, backing: 0x100n }]
    assert.equal(memory(ranges).fileSpans(physAddr(0x1000n), 16), undefined, 'only for a plain file')
    const mem = memory(ranges, { plainFile: true })
    const found = mem.fileSpans(physAddr(0x4ff0n), 0x10020 - 0x4ff0)
    assert.ok(found !== undefined)
    const fd = fds[fds.length - 1]
    assert.deepEqual(found.spans, [{ fd, pos: 0xbff0, length: 0x10 }, { fd: -1, pos: 0, length: 0x10000 - 0x5000 }, { fd, pos: 0x100, length: 0x20 }])
    let idle = false
    const waited = mem.idle().then(() => { idle = true })
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(idle, false, 'in use while the spans are held')
    found.release()
    found.release()
    await waited
    assert.equal(memory(ranges, { plainFile: true, strict: true }).fileSpans(physAddr(0x4ff0n), 0x20), undefined, 'a strict gap: read() says why')
  })

  it('maps a whole plain file: extents of the fd, zeros for gaps and negative backing, strict gaps left out', async () => {
    const ranges = [{ start: 0x1000n, length: 0x4000n, backing: 0x8000n }, { start: 0x5000n, length: 0x1000n, backing: -1n << 40n }, { start: 0x10000n, length: 0x1000n, backing: 0x100n }]
    assert.equal(memory(ranges).fileMap(), undefined, 'only for a plain file')
    const mem = memory(ranges, { plainFile: true })
    const map = mem.fileMap()
    assert.ok(map !== undefined)
    assert.equal(map.fd, fds[fds.length - 1])
    assert.deepEqual(map.extents, [
      { addr: 0n, length: 0x1000n, pos: -1 }, { addr: 0x1000n, length: 0x4000n, pos: 0x8000 }, { addr: 0x5000n, length: 0x1000n, pos: -1 },
      { addr: 0x6000n, length: 0xa000n, pos: -1 }, { addr: 0x10000n, length: 0x1000n, pos: 0x100 },
    ])
    let idle = false
    const waited = mem.idle().then(() => { idle = true })
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(idle, false, 'the fd is in use until the map is released')
    map.release()
    await waited
    const strict = memory(ranges, { plainFile: true, strict: true }).fileMap()
    assert.deepEqual(strict?.extents.map((e) => e.addr), [0x1000n, 0x5000n, 0x10000n], 'strict: gaps are not in the map (read() says why)')
    strict?.release()
  })

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'mw-pread-'))
    path = join(dir, 'backing.bin')
    content = randomBytes(FILE_BYTES)
    writeFileSync(path, content)
  })
  after(() => {
    for (const fd of fds) closeSync(fd)
    rmSync(dir, { recursive: true, force: true })
  })

  it('maps addresses to positions, reads gaps as zeros, and merges nearby pieces into one read', async () => {
    const mem = memory([{ start: 0x1000n, length: 0x4000n, backing: 0x8000n }, { start: 0x10000n, length: 0x1000n, backing: 0x100n }])
    assert.equal(mem.metadata().maxAddress, 0x11000n)
    assert.equal(mem.metadata().volatile, true)
    const results = await mem.read([
      { addr: physAddr(0x1000n), length: 16 },
      { addr: physAddr(0x1100n), length: 16 },
      { addr: physAddr(0x4ff8n), length: 16 },
      { addr: physAddr(0x10010n), length: 8 },
      { addr: physAddr(0x0n), length: 0 },
    ])
    const data = results.map((r) => (r.ok ? Buffer.from(r.data) : undefined))
    assert.deepEqual(data[0], content.subarray(0x8000, 0x8010))
    assert.deepEqual(data[1], content.subarray(0x8100, 0x8110))
    assert.deepEqual(data[2], Buffer.concat([content.subarray(0xbff8, 0xc000), Buffer.alloc(8)]), 'the tail past the range is zeros')
    assert.deepEqual(data[3], content.subarray(0x110, 0x118))
    assert.deepEqual(data[4], Buffer.alloc(0))
    // Three extents in the first span share one read; the second span is read on its own.
    assert.equal(mem.stats.preads, 2)
    assert.equal(mem.stats.zeroFilledBytes, 8)
  })

  it('never merges across the hole between two spans, however close', async () => {
    const mem = memory([{ start: 0n, length: 0x1000n, backing: 0x1000n }, { start: 0x1000n, length: 0x1000n, backing: 0x2100n }])
    const results = await mem.read([{ addr: physAddr(0xff0n), length: 16 }, { addr: physAddr(0x1000n), length: 16 }])
    assert.ok(results.every((r) => r.ok))
    assert.equal(mem.stats.preads, 2)
    const whole = await mem.read([{ addr: physAddr(0xff8n), length: 16 }])
    assert.ok(whole[0]?.ok)
    assert.deepEqual(Buffer.from(whole[0].data), Buffer.concat([content.subarray(0x1ff8, 0x2000), content.subarray(0x2100, 0x2108)]))
  })

  it('fails pieces on their own: bounds, size, strict gaps, and a read the backing cannot serve', async () => {
    const beyond = { start: 0x10000n, length: 0x1000n, backing: BigInt(FILE_BYTES) + 0x1000n }
    const mem = memory([{ start: 0n, length: 0x1000n, backing: 0n }, beyond], { strict: true })
    const results = await mem.read([
      { addr: physAddr(0n), length: 8 },
      { addr: physAddr(0x2000n), length: 8 },
      { addr: physAddr(0x10000n), length: 8 },
      { addr: physAddr(0x10ff8n), length: 16 },
      { addr: physAddr(0x8n), length: 8 },
      { addr: physAddr(0n), length: 65 * 1024 * 1024 },
    ])
    const kinds = results.map((r) => (r.ok ? 'ok' : r.error.kind))
    assert.deepEqual(kinds, ['ok', 'unmapped', 'io', 'out_of_bounds', 'ok', 'too_large'])
    assert.ok(results[4]?.ok)
    assert.deepEqual(Buffer.from(results[4].data), content.subarray(8, 16))
    assert.equal(mem.stats.failedPieces, 4)
  })

  it('lets its owner turn failures into stale errors, and refuses everything once blocked', async () => {
    const stale = new MemweaveError('connector', 'stale', 'stale handle: gone')
    let blocked = false
    const guard: PreadGuard = { blocked: () => (blocked ? stale : undefined), readFailed: async () => stale }
    const mem = memory([{ start: 0n, length: 0x1000n, backing: BigInt(FILE_BYTES) }], { guard })
    const [failed] = await mem.read([{ addr: physAddr(0n), length: 8 }])
    assert.ok(failed !== undefined && !failed.ok && failed.error === stale)
    blocked = true
    const results = await mem.read([{ addr: physAddr(0n), length: 8 }, { addr: physAddr(8n), length: 8 }])
    assert.ok(results.every((r) => !r.ok && r.error === stale))
    const writes = await memory([{ start: 0n, length: 0x1000n, backing: 0n }], { writable: true, guard }).write([{ addr: physAddr(0n), data: new Uint8Array(1) }])
    assert.ok(writes[0] !== undefined && !writes[0].ok && writes[0].error === stale)
  })

  it('writes through the map only when writable, and never into gaps', async () => {
    const ranges = [{ start: 0n, length: 0x1000n, backing: 0x3000n }, { start: 0x2000n, length: 0x1000n, backing: 0x5000n }]
    const readOnly = memory(ranges)
    const [refused] = await readOnly.write([{ addr: physAddr(0n), data: new Uint8Array(4) }])
    assert.ok(refused !== undefined && !refused.ok && refused.error.kind === 'permission')
    const mem = memory(ranges, { writable: true })
    assert.equal(mem.metadata().readonly, false)
    const data = new Uint8Array([1, 2, 3, 4])
    const results = await mem.write([{ addr: physAddr(0xffen), data }, { addr: physAddr(0x2000n), data }])
    assert.deepEqual(results.map((r) => (r.ok ? 'ok' : r.error.kind)), ['unmapped', 'ok'])
    const onDisk = readFileSync(path)
    assert.deepEqual([...onDisk.subarray(0x5000, 0x5004)], [1, 2, 3, 4])
    assert.deepEqual(onDisk.subarray(0x3ffe, 0x4000), content.subarray(0x3ffe, 0x4000), 'the refused piece wrote nothing')
    content.set(data, 0x5000)
    assert.equal(mem.stats.bytesWritten, 4)
  })

  it('agrees with a byte-by-byte oracle on random layouts and batches', async () => {
    const layout = fc.uniqueArray(fc.integer({ min: 0, max: 63 }), { minLength: 1, maxLength: 8 }).chain((slots) =>
      fc.tuple(...slots.map((slot) => fc.record({ slot: fc.constant(slot), backingPage: fc.integer({ min: 0, max: FILE_BYTES / 4096 - 1 }) }))))
    const pieces = fc.array(fc.record({ addr: fc.integer({ min: 0, max: 64 * 4096 - 1 }), length: fc.integer({ min: 0, max: 9000 }) }), { minLength: 1, maxLength: 24 })
    await fc.assert(fc.asyncProperty(layout, pieces, async (slots, batch) => {
      const ranges = slots.map((s) => ({ start: BigInt(s.slot * 4096), length: 4096n, backing: BigInt(s.backingPage * 4096) }))
      const mem = memory(ranges)
      const max = Number(mem.metadata().maxAddress)
      const results = await mem.read(batch.map((p) => ({ addr: physAddr(BigInt(p.addr)), length: p.length })))
      batch.forEach((piece, i) => {
        const result = results[i]!
        if (piece.addr + piece.length > max) { assert.ok(!result.ok && result.error.kind === 'out_of_bounds'); return }
        assert.ok(result.ok)
        const expected = Buffer.alloc(piece.length)
        for (let b = 0; b < piece.length; b++) {
          const a = piece.addr + b
          const r = ranges.find((x) => BigInt(a) >= x.start && BigInt(a) < x.start + x.length)
          if (r !== undefined) expected[b] = content[Number(r.backing) + a - Number(r.start)]!
        }
        assert.deepEqual(Buffer.from(result.data), expected)
      })
    }), { numRuns: 60 })
  })
})
