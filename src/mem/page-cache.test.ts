import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { BufferMemory } from './buffer-memory.js'
import { MeteredMemory } from './metrics.js'
import { PageCache, timedValidity } from './page-cache.js'
import { RangeMap } from './range-map.js'

function source(size: number): BufferMemory {
  return new BufferMemory(new Uint8Array(size).map((_, i) => (i * 7 + (i >> 12)) & 0xff))
}

test('cached reads equal the source for any batch, and failures stay per piece', async () => {
  const oracle = source(64 * 1024)
  const cache = new PageCache(source(64 * 1024), { maxPages: 5 })
  await fc.assert(fc.asyncProperty(
    fc.array(fc.record({ addr: fc.integer({ min: 0, max: 70 * 1024 }), length: fc.integer({ min: 0, max: 20000 }) }), { minLength: 1, maxLength: 12 }),
    async (raw) => {
      const pieces = raw.map((p) => ({ addr: BigInt(p.addr), length: p.length }))
      const [expected, actual] = await Promise.all([oracle.read(pieces), cache.read(pieces)])
      actual.forEach((result, i) => {
        const want = expected[i]!
        assert.equal(result.ok, want.ok, `piece ${i}`)
        if (result.ok && want.ok) assert.deepEqual(result.data, want.data)
      })
    }), { numRuns: 300, seed: 7 })
})

test('pages are read once while valid, bounded in number, and dropped by writes', async () => {
  const metered = new MeteredMemory(source(32 * 4096))
  const cache = new PageCache(metered, { maxPages: 4 })
  await cache.read([{ addr: 0n, length: 8 }, { addr: 100n, length: 8 }])
  await cache.read([{ addr: 16n, length: 8 }])
  assert.equal(metered.stats.readPieces, 1, 'one page read for three pieces on it')
  for (let page = 1n; page <= 8n; page++) await cache.read([{ addr: page * 4096n, length: 1 }])
  await cache.read([{ addr: 0n, length: 1 }])
  assert.equal(metered.stats.readPieces, 10, 'page 0 was evicted by the bound of 4 pages')
  await cache.write([{ addr: 0n, data: new Uint8Array([0xee]) }])
  const [after] = await cache.read([{ addr: 0n, length: 1 }])
  assert.ok(after?.ok)
  assert.equal(after.data[0], 0xee, 'a write drops the page so the new byte is read')
})

test('timed validity refetches live pages after they expire', async () => {
  const bytes = new Uint8Array(8192)
  const cache = new PageCache(new BufferMemory(bytes, { volatile: true }), { validity: timedValidity(0) })
  await cache.read([{ addr: 0n, length: 1 }])
  bytes[0] = 42
  const [result] = await cache.read([{ addr: 0n, length: 1 }])
  assert.ok(result?.ok)
  assert.equal(result.data[0], 42)
})

test('range maps split reads into mapped segments and gaps, and refuse overlaps', () => {
  const map = new RangeMap([{ start: 0x2000n, length: 0x1000n, backing: 0n }, { start: 0n, length: 0x1000n, backing: 0x1000n }])
  assert.deepEqual(map.segments(0x800n, 0x2000), [
    { addr: 0x800n, length: 0x800, backing: 0x1800n },
    { addr: 0x1000n, length: 0x1000, backing: undefined },
    { addr: 0x2000n, length: 0x800, backing: 0n },
  ])
  assert.equal(map.maxAddress, 0x3000n)
  assert.equal(map.contains(0x1800n), false)
  assert.equal(map.totalBytes(), 0x2000n)
  assert.throws(() => new RangeMap([{ start: 0n, length: 0x2000n, backing: 0n }, { start: 0x1000n, length: 0x10n, backing: 0n }]), /overlapping ranges/)
})
