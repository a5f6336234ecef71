import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { MemweaveError } from '../errors/index.js'
import type { PieceResult } from '../mem/index.js'
import { decodeFragments, decodeMessage, encodeMessage, encodeReadReply, fromWireError, toWireError, ZERO_COPY_MIN_BYTES } from './codec.js'

const big = (n: number, fill: number): Buffer => Buffer.alloc(n, fill)

test('integers keep their type: bigints (even beyond 64 bits) stay bigints, numbers stay numbers', () => {
  const value = { a: 0xffff_8000_0000_0000n, b: 1n << 64n, c: -(1n << 70n), d: 0n, e: 2 ** 53 - 1, f: 0.5, g: undefined, h: null }
  assert.deepEqual(decodeMessage(encodeMessage(value)), value)
})

test('decode refuses garbage, truncation and trailing bytes as malformed', () => {
  const isMalformed = (err: unknown): boolean => err instanceof MemweaveError && err.kind === 'malformed'
  assert.throws(() => decodeMessage(Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff])), isMalformed)
  assert.throws(() => decodeMessage(Buffer.concat([encodeMessage({ a: 1 }), encodeMessage(2)])), (err: unknown) => isMalformed(err) && /2 msgpack values/.test(String(err)))
  assert.throws(() => decodeMessage(Buffer.from('hello world')), isMalformed)
  assert.throws(() => decodeMessage(Buffer.alloc(0)), isMalformed)
})

test('a read reply in parts decodes like the plain encoding, big pieces passed through uncopied', () => {
  const payload = big(ZERO_COPY_MIN_BYTES, 7)
  const results: PieceResult[] = [
    { ok: true, data: new Uint8Array([1, 2, 3]) },
    { ok: true, data: payload },
    { ok: false, error: new MemweaveError('mem', 'unmapped', '0x1000 is not mapped') },
    { ok: true, data: big(300_000, 9) },
    { ok: true, data: new Uint8Array(0) },
  ]
  const parts = encodeReadReply(42, results)
  assert.equal(parts.length, 5)
  assert.equal(parts[1]?.buffer, payload.buffer, 'the big piece is not copied')
  const expected = {
    id: 42,
    result: [{ data: Buffer.from([1, 2, 3]) }, { data: payload }, { error: toWireError(new MemweaveError('mem', 'unmapped', '0x1000 is not mapped')) }, { data: big(300_000, 9) }, { data: Buffer.alloc(0) }],
  }
  assert.deepEqual(decodeMessage(Buffer.concat(parts)), expected)
  const fromFragments = decodeFragments(parts)
  assert.deepEqual(fromFragments, expected)
  const restored = (fromFragments as { result: Array<{ data?: Buffer }> }).result[1]?.data
  assert.equal(restored?.buffer, payload.buffer, 'the fragment itself is handed back')
})

test('pieces placed in the data ring travel as {ring, length} with uint32 positions of every width', () => {
  const results: PieceResult[] = [
    { ok: true, data: big(200_000, 1) },
    { ok: true, data: new Uint8Array([5]) },
    { ok: false, error: new MemweaveError('mem', 'unmapped', 'nope') },
    { ok: true, data: big(70_000, 2) },
    { ok: true, data: big(100, 3) },
  ]
  for (const position of [0, 127, 128, 65_535, 65_536, 2 ** 32 - 1]) {
    const parts = encodeReadReply(7, results, [position, undefined, 5, 300, 12])
    assert.equal(parts.length, 1, 'nothing big is left to pass through')
    assert.deepEqual(decodeMessage(Buffer.concat(parts)), {
      id: 7,
      result: [{ ring: position, length: 200_000 }, { data: Buffer.from([5]) }, { error: toWireError(new MemweaveError('mem', 'unmapped', 'nope')) }, { ring: 300, length: 70_000 }, { ring: 12, length: 100 }],
    })
  }
})

test('array and bin headers of every width are right', () => {
  for (const count of [0, 15, 16, 70_000]) {
    const results: PieceResult[] = Array.from({ length: count }, (_, i) => ({ ok: true, data: new Uint8Array([i & 0xff]) }))
    const decoded = decodeMessage(Buffer.concat(encodeReadReply(1, results))) as { result: unknown[] }
    assert.equal(decoded.result.length, count)
  }
  for (const length of [255, 256, 65_535, 65_536]) {
    const decoded = decodeMessage(Buffer.concat(encodeReadReply(2 ** 40, [{ ok: true, data: big(length, 1) }]))) as { id: number; result: Array<{ data: Buffer }> }
    assert.equal(decoded.id, 2 ** 40)
    assert.equal(decoded.result[0]?.data.length, length)
  }
})

test('any fragmentation of any message decodes to the same value', () => {
  fc.assert(fc.property(
    fc.array(fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.constant(big(ZERO_COPY_MIN_BYTES, 3))), { maxLength: 4 }),
    fc.array(fc.nat(), { maxLength: 5 }),
    (datas, cuts) => {
      const whole = Buffer.concat(encodeReadReply(9, datas.map((data) => ({ ok: true, data }))))
      const points = [...new Set(cuts.map((c) => c % (whole.length + 1)))].sort((a, b) => a - b)
      const fragments = [0, ...points].map((start, i) => whole.subarray(start, [...points, whole.length][i]))
      assert.deepEqual(decodeFragments(fragments.filter((f) => f.length > 0)), decodeMessage(whole))
    },
  ), { numRuns: 200 })
})

test('a fragment that merely looks like a raw piece, outside a read reply, still decodes exactly', () => {
  const body = big(ZERO_COPY_MIN_BYTES, 5)
  const whole = encodeMessage({ id: 3, result: { blob: body } })
  const cut = whole.length - body.length
  assert.deepEqual(decodeFragments([whole.subarray(0, cut), whole.subarray(cut)]), { id: 3, result: { blob: body } })
})

test('wire errors rebuild the same MemweaveError', () => {
  const error = new MemweaveError('tree', 'stale', 'stale handle 3 (os/g/processes/by-pid/42/mem): process 42 exited')
  const back = fromWireError(toWireError(error))
  assert.equal(back.origin, 'tree')
  assert.equal(back.kind, 'stale')
  assert.equal(back.message, error.message)
  const wrapped = fromWireError(toWireError(new Error('boom'), 'reading'))
  assert.equal(wrapped.origin, 'net')
  assert.equal(wrapped.kind, 'internal')
  assert.match(wrapped.message, /reading: boom/)
})

test('random bytes either decode or fail as malformed, never otherwise', () => {
  const exts = [0x42, 0x65, 0x69, 0x70, 0x73, 0x74, 0x78, 0xff, 0x00].map((type) => fc.uint8Array({ maxLength: 24 }).map((body) => Buffer.from([0xc7, body.length, type, ...body])))
  fc.assert(fc.property(fc.array(fc.oneof(fc.uint8Array({ maxLength: 64 }), ...exts), { maxLength: 4 }), (chunks) => {
    try {
      decodeMessage(Buffer.concat(chunks))
    } catch (err) {
      assert.ok(err instanceof MemweaveError && err.kind === 'malformed', String(err))
    }
  }), { numRuns: 3000 })
})
