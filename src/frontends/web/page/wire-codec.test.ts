/**
 * The page's msgpack against the daemon's (src/net/codec.ts, msgpackr):
 * what the page encodes the daemon decodes to the same value, and what the
 * daemon encodes the page decodes to the same value, for every type the
 * protocol carries; broken messages throw.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { decodeMessage, encodeMessage } from '../../../net/codec.js'
import { decode, encode } from './wire-codec.js'

const bytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31) & 0xff)

const VALUES: ReadonlyArray<[string, unknown]> = [
  ['nil', null], ['true', true], ['false', false],
  ['small ints', [0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1]],
  ['negative ints', [-1, -32, -33, -128, -129, -32768, -32769, -(2 ** 31)]],
  ['numbers beyond 32 bits and floats', [2 ** 32, 2 ** 40 + 3, Number.MAX_SAFE_INTEGER, 0.5, -1.25, 1e300]],
  ['bigints', [0n, 1n, 0x7fff_ffff_f000n, (1n << 63n) - 1n, -(1n << 63n), 1n << 63n, (1n << 64n) - 1n, -5n]],
  ['strings', ['', 'id', 'a'.repeat(31), 'b'.repeat(32), 'c'.repeat(300), 'd'.repeat(70_000), 'ünïcødé ✓ 🧠', 'sh -c "x"']],
  ['bins', [bytes(0), bytes(1), bytes(255), bytes(256), bytes(70_000)]],
  ['a request', { id: 7, op: 'read', handle: 3, pieces: [{ addr: 0x7f12_3456_7000n, length: 4096 }] }],
  ['nested maps and arrays', { list: Array.from({ length: 20 }, (_, i) => ({ name: `n${i}`, type: i % 2 === 0 ? 'leaf' : 'branch' })), deep: { a: [[], {}, [1, [2, [3]]]] } }],
  ['a map with 20 keys', Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i]))],
]

test('what the page encodes, the daemon decodes to the same value', () => {
  for (const [what, value] of VALUES) assert.deepEqual(normal(decodeMessage(encode(value))), normal(value), what)
})

test('what the daemon encodes, the page decodes to the same value', () => {
  for (const [what, value] of VALUES) assert.deepEqual(normal(decode(encodeMessage(value))), normal(value), what)
  // Beyond 64 bits the daemon uses its bigint extension (a 2^64 extent, kmem's size).
  assert.equal(decode(encodeMessage({ size: 1n << 64n })) instanceof Object && (decode(encodeMessage({ size: 1n << 64n })) as { size: bigint }).size, 1n << 64n)
  assert.equal(decode(encodeMessage(-(1n << 70n))), -(1n << 70n))
  const when = new Date(1_700_000_000_123)
  assert.equal((decode(encodeMessage(when)) as Date).getTime(), when.getTime())
})

test('keys with undefined values are left out; a __proto__ key stays a plain key', () => {
  assert.deepEqual(decodeMessage(encode({ a: 1, b: undefined })), { a: 1 })
  const hostile = decode(encodeMessage(JSON.parse('{"__proto__": {"polluted": true}, "x": 1}'))) as Record<string, unknown>
  assert.equal(Object.getPrototypeOf(hostile), Object.prototype)
  assert.deepEqual(Object.keys(hostile).sort(), ['__proto__', 'x'])
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined)
})

test('broken messages throw: truncated, trailing bytes, an unknown extension', () => {
  const whole = encode({ id: 1, op: 'list', path: 'os' })
  assert.throws(() => decode(whole.subarray(0, whole.length - 1)), /truncated/)
  assert.throws(() => decode(Uint8Array.from([...whole, 0])), /after its value/)
  assert.throws(() => decode(Uint8Array.from([0xd4, 0x07, 0x00])), /extension 7/)
  assert.throws(() => decode(Uint8Array.from([0xc1])), /not a msgpack type/)
})

/** Bins compare as plain byte arrays (the daemon's decoder gives Buffers, the page's Uint8Array views). */
function normal(value: unknown): unknown {
  if (value instanceof Uint8Array) return [...value]
  if (Array.isArray(value)) return value.map(normal)
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normal(v)]))
  return value
}
