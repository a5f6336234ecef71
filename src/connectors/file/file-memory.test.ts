/**
 * Reads and writes through the file connector on real temp files: raw, ELF
 * and LiME images, gaps, zero tails, strict mode, bounds, and a property
 * test of batched (coalesced) reads against a byte-by-byte oracle.
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import { MAX_PIECE_BYTES, physAddr } from '../../mem/index.js'
import { writeElfCore, writeLime } from './image-writers.js'
import type { ImageRange } from './image-writers.js'
import { kindOf, openImage, patternBytes, readBytes, tempDir } from './file-test-kit.js'
import type { TempDir } from './file-test-kit.js'

let dir: TempDir
before(async () => { dir = await tempDir() })
after(async () => { await dir.remove() })

const pieces = (list: [bigint, number][]): { addr: ReturnType<typeof physAddr>; length: number }[] =>
  list.map(([addr, length]) => ({ addr: physAddr(addr), length }))

describe('file connector reads', () => {
  it('reads a raw image at file offsets, batched', async () => {
    const bytes = patternBytes(64 * 1024, 1)
    const c = await openImage(dir, 'raw.bin', bytes)
    try {
      assert.equal(c.mem.metadata().maxAddress, BigInt(bytes.length))
      const results = await c.mem.read(pieces([[0x100n, 16], [0n, 4096], [0xfff0n, 16], [0x2000n, 0]]))
      assert.deepEqual(results.map(kindOf), ['ok', 'ok', 'ok', 'ok'])
      assert.deepEqual(results[0]?.ok === true ? results[0].data : undefined, bytes.subarray(0x100, 0x110))
      assert.deepEqual(results[2]?.ok === true ? results[2].data : undefined, bytes.subarray(0xfff0))
      assert.equal(results[3]?.ok === true ? results[3].data.length : -1, 0)
    } finally { await c.close() }
  })

  it('reads gaps as zeros, or fails them with unmapped in strict mode', async () => {
    const a = patternBytes(0x1000, 2)
    const image = writeElfCore([{ addr: 0x1000n, data: a }, { addr: 0x4000n, data: a }])
    const loose = await openImage(dir, 'gaps.elf', image)
    const strict = await openImage(dir, 'gaps-strict.elf', image, 'strict=true')
    try {
      const data = await readBytes(loose, 0x1ff0n, 0x20)
      assert.deepEqual(data.subarray(0, 16), a.subarray(0xff0))
      assert.deepEqual(data.subarray(16), new Uint8Array(16))
      assert.deepEqual(await readBytes(loose, 0n, 8), new Uint8Array(8))
      const results = await strict.mem.read(pieces([[0x1ff0n, 0x20], [0x1000n, 16], [0x3000n, 4]]))
      assert.deepEqual(results.map(kindOf), ['unmapped', 'ok', 'unmapped'])
      const first = results[0]
      assert.ok(first !== undefined && !first.ok)
      assert.match(first.error.message, /address 0x2000 is not in the image/)
    } finally { await loose.close(); await strict.close() }
  })

  it('reads the p_memsz tail of a segment as zeros, even in strict mode', async () => {
    const c = await openImage(dir, 'tail.elf', writeElfCore([{ addr: 0n, data: patternBytes(100, 3), memSizeBytes: 0x1000n }]), 'strict=true')
    try {
      const data = await readBytes(c, 90n, 20)
      assert.deepEqual(data.subarray(10), new Uint8Array(10))
      assert.equal(c.mem.metadata().maxAddress, 0x1000n)
    } finally { await c.close() }
  })

  it('fails reads past the end, oversized and malformed pieces, each on its own', async () => {
    const c = await openImage(dir, 'bounds.lime', writeLime([{ addr: 0x1000n, data: patternBytes(0x1000, 4) }]))
    try {
      const results = await c.mem.read(pieces([[0x1ff8n, 16], [0x2000n, 1], [0x1000n, MAX_PIECE_BYTES + 1], [0x1000n, -1], [-1n, 1], [0x1ff8n, 8]]))
      assert.deepEqual(results.map(kindOf), ['out_of_bounds', 'out_of_bounds', 'too_large', 'invalid_argument', 'invalid_argument', 'ok'])
    } finally { await c.close() }
  })

  it('merges a batch of adjacent pages into few file reads and returns views without copies', async () => {
    const bytes = patternBytes(1 << 20, 5)
    const c = await openImage(dir, 'coalesce.bin', bytes)
    try {
      const batch = Array.from({ length: 256 }, (_, i) => [BigInt((255 - i) * 4096), 4096] as [bigint, number])
      const readsBefore = readStat(await c.info(), 'preads')
      const results = await c.mem.read(pieces(batch))
      const preads = readStat(await c.info(), 'preads') - readsBefore
      assert.equal(preads, 1)
      results.forEach((r, i) => {
        assert.ok(r.ok)
        const offset = (255 - i) * 4096
        assert.deepEqual(r.data, bytes.subarray(offset, offset + 4096))
      })
      const first = results[0]
      const second = results[1]
      assert.ok(first?.ok === true && second?.ok === true)
      assert.equal(first.data.buffer, second.data.buffer, 'pieces share the read buffer')
    } finally { await c.close() }
  })

  it('matches a byte oracle for random images and random batches (property)', async () => {
    const rangeArb = fc.record({ gap: fc.integer({ min: 0, max: 5000 }), size: fc.integer({ min: 1, max: 9000 }), tail: fc.integer({ min: 0, max: 3000 }) })
    const pieceArb = fc.record({ addr: fc.integer({ min: 0, max: 80_000 }), length: fc.integer({ min: 0, max: 12_000 }) })
    let run = 0
    await fc.assert(fc.asyncProperty(
      fc.array(rangeArb, { minLength: 1, maxLength: 8 }), fc.array(pieceArb, { minLength: 1, maxLength: 40 }), fc.constantFrom('elf', 'lime'), fc.boolean(),
      async (layout, batch, format, strict) => {
        const ranges: ImageRange[] = []
        let cursor = 0n
        layout.forEach((r, i) => {
          cursor += BigInt(r.gap)
          const memSizeBytes = format === 'elf' ? BigInt(r.size + r.tail) : BigInt(r.size)
          ranges.push({ addr: cursor, data: patternBytes(r.size, i + 7), memSizeBytes })
          cursor += memSizeBytes
        })
        const image = format === 'elf' ? writeElfCore(ranges) : writeLime(ranges)
        const c = await openImage(dir, `prop-${run++}.${format}`, image, strict ? 'strict=true' : '')
        try {
          const results = await c.mem.read(pieces(batch.map((p) => [BigInt(p.addr), p.length])))
          batch.forEach((p, i) => {
            const expected = oracle(ranges, cursor, BigInt(p.addr), p.length, strict)
            const got = results[i]
            if (typeof expected === 'string') assert.equal(kindOf(got), expected)
            else assert.deepEqual(got?.ok === true ? got.data : kindOf(got), expected)
          })
        } finally { await c.close() }
      }), { numRuns: 60 })
  })
})

/** The simplest possible model: byte by byte through the range list. */
function oracle(ranges: readonly ImageRange[], maxAddress: bigint, addr: bigint, length: number, strict: boolean): Uint8Array | string {
  if (addr + BigInt(length) > maxAddress) return 'out_of_bounds'
  const out = new Uint8Array(length)
  for (let i = 0; i < length; i++) {
    const a = addr + BigInt(i)
    const range = ranges.find((r) => a >= r.addr && a < r.addr + (r.memSizeBytes ?? BigInt(r.data.length)))
    if (range === undefined) { if (strict) return 'unmapped'; continue }
    const offset = Number(a - range.addr)
    out[i] = offset < range.data.length ? range.data[offset]! : 0
  }
  return out
}

function readStat(info: Record<string, unknown>, name: string): number {
  const stats = info['stats']
  if (typeof stats !== 'object' || stats === null || !(name in stats)) throw new Error(`no stat ${name}`)
  const value: unknown = Object.entries(stats).find(([key]) => key === name)?.[1]
  if (typeof value !== 'number') throw new Error(`stat ${name} is not a number`)
  return value
}

describe('file connector writes', () => {
  it('refuses writes unless the node allows them', async () => {
    const c = await openImage(dir, 'ro.bin', patternBytes(4096, 8))
    try {
      assert.equal(c.mem.metadata().readonly, true)
      const [result] = await c.mem.write([{ addr: physAddr(0n), data: Uint8Array.of(1) }])
      assert.equal(kindOf(result), 'permission')
    } finally { await c.close() }
  })

  it('writes into mapped ranges, never into gaps or zero tails, and stays fresh', async () => {
    const ranges = [{ addr: 0x1000n, data: patternBytes(0x100, 9), memSizeBytes: 0x200n }, { addr: 0x3000n, data: patternBytes(0x100, 10) }]
    const c = await openImage(dir, 'rw.elf', writeElfCore(ranges), '', true)
    try {
      assert.equal(c.mem.metadata().readonly, false)
      const results = await c.mem.write([
        { addr: physAddr(0x1010n), data: Uint8Array.of(0xaa, 0xbb) },
        { addr: physAddr(0x2000n), data: Uint8Array.of(1) },
        { addr: physAddr(0x10f0n), data: new Uint8Array(0x20) },
        { addr: physAddr(0x3100n), data: Uint8Array.of(1) },
      ])
      assert.deepEqual(results.map((r) => (r.ok ? 'ok' : r.error.kind)), ['ok', 'unmapped', 'unsupported', 'out_of_bounds'])
      assert.deepEqual(await readBytes(c, 0x1010n, 2), Uint8Array.of(0xaa, 0xbb))
      const onDisk = await readFile(dir.file('rw.elf'))
      assert.ok(onDisk.includes(Buffer.from([0xaa, 0xbb])))
      assert.equal(await c.lifetime.staleReason(), undefined, 'our own write does not make us stale')
    } finally { await c.close() }
  })

  it('honours readonly=true even when writes are allowed', async () => {
    const c = await openImage(dir, 'forced-ro.bin', patternBytes(4096, 11), 'readonly=true', true)
    try {
      assert.equal(c.mem.metadata().readonly, true)
    } finally { await c.close() }
  })
})
