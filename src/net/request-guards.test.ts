import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { decodeMessage, encodeMessage } from './codec.js'
import { parseRequest } from './request-guards.js'

test('well-formed requests come out typed, with number addresses widened to bigint', () => {
  assert.deepEqual(parseRequest({ id: 1, op: 'read', handle: 3, pieces: [{ addr: 0xffff_8000_0000_0000n, length: 8 }, { addr: 4096, length: 0 }] }, 10), {
    ok: true, request: { id: 1, op: 'read', handle: 3, pieces: [{ addr: 0xffff_8000_0000_0000n, length: 8 }, { addr: 4096n, length: 0 }] },
  })
  assert.deepEqual(parseRequest({ id: 2, op: 'hello', version: { major: 1, minor: 2 }, token: 't', client: { name: 'cli', chain: ['a'] } }, 10), {
    ok: true, request: { id: 2, op: 'hello', version: { major: 1, minor: 2 }, token: 't', client: { name: 'cli', chain: ['a'] } },
  })
  assert.deepEqual(parseRequest({ id: 3, op: 'rpc', handle: 1, request: { any: ['thing', 1n] } }, 10), {
    ok: true, request: { id: 3, op: 'rpc', handle: 1, request: { any: ['thing', 1n] } },
  })
  assert.deepEqual(parseRequest({ id: 4, op: 'ping' }, 10), { ok: true, request: { id: 4, op: 'ping' } })
  // 1.1: a ring offer at hello, the consumed mark on reads.
  const key = new Uint8Array(32).fill(9)
  assert.deepEqual(parseRequest({ id: 5, op: 'hello', version: { major: 1, minor: 1 }, dataPath: '/dev/shm/memweave-1-ab', dataKey: key }, 10), {
    ok: true, request: { id: 5, op: 'hello', version: { major: 1, minor: 1 }, token: undefined, dataPath: '/dev/shm/memweave-1-ab', dataKey: key },
  })
  assert.deepEqual(parseRequest({ id: 6, op: 'read', handle: 1, pieces: [], consumed: 2 ** 32 - 1 }, 10), {
    ok: true, request: { id: 6, op: 'read', handle: 1, pieces: [], consumed: 2 ** 32 - 1 },
  })
})

test('each bad field is named, with the id kept when it could be read', () => {
  const cases: Array<[unknown, number | undefined, RegExp]> = [
    [[1, 2], undefined, /must be a map, got an array/],
    [{ op: 'list', path: '' }, undefined, /request\.id must be an integer/],
    [{ id: 1.5, op: 'list' }, undefined, /request\.id/],
    [{ id: 1, op: 'list' }, 1, /list request\.path must be a string, got a undefined/],
    [{ id: 2, op: 7 }, 2, /op must be a string/],
    [{ id: 3, op: 'constructor' }, 3, /unknown op 'constructor'/],
    [{ id: 4, op: 'write', handle: 1, pieces: [{ addr: 1n, data: 'text' }] }, 4, /pieces\[0\]\.data must be binary/],
    [{ id: 5, op: 'read', handle: -1, pieces: [] }, 5, /handle must be an integer in 0\.\.4294967295, got the integer -1/],
    [{ id: 6, op: 'read', handle: 1, pieces: [{ addr: -5, length: 1 }] }, 6, /addr must be a 64-bit integer/],
    [{ id: 7, op: 'read', handle: 1, pieces: [null] }, 7, /pieces\[0\] must be a map, got nil/],
    [{ id: 8, op: 'hello', version: 1 }, 8, /hello\.version must be a map/],
    [{ id: 9, op: 'hello', version: { major: 1, minor: 0 }, client: { chain: [1] } }, 9, /chain\[0\]/],
    [{ id: 10, op: 'hello', version: { major: 1, minor: 1 }, dataPath: '/dev/shm/memweave-x' }, 10, /hello\.dataKey must be binary/],
    [{ id: 11, op: 'hello', version: { major: 1, minor: 1 }, dataPath: 5, dataKey: new Uint8Array(32) }, 11, /hello\.dataPath must be a string/],
    [{ id: 12, op: 'hello', version: { major: 1, minor: 1 }, dataPath: '/x', dataKey: new Uint8Array(300) }, 12, /dataKey is longer than 256/],
    [{ id: 13, op: 'read', handle: 1, pieces: [], consumed: 2 ** 32 }, 13, /consumed must be an integer in 0\.\.4294967295/],
    [{ id: 14, op: 'read', handle: 1, pieces: [], consumed: -1 }, 14, /consumed/],
  ]
  for (const [value, id, pattern] of cases) {
    const parsed = parseRequest(value, 10)
    assert.ok(!parsed.ok, `refused: ${pattern}`)
    assert.equal(parsed.id, id)
    assert.equal(parsed.error.kind, 'protocol')
    assert.match(parsed.error.message, pattern)
  }
})

test('too many pieces is too_large, checked before the pieces are looked at', () => {
  const parsed = parseRequest({ id: 1, op: 'read', handle: 1, pieces: Array.from({ length: 11 }, () => 'junk') }, 10)
  assert.ok(!parsed.ok)
  assert.equal(parsed.error.kind, 'too_large')
})

test('prototype keys do not leak into requests', () => {
  const decoded = decodeMessage(encodeMessage({ id: 1, op: 'list', ['__proto__']: { path: 'x' } }))
  const parsed = parseRequest(decoded, 10)
  assert.ok(!parsed.ok)
  assert.match(parsed.error.message, /path must be a string/)
})

test('no decoded value makes the parser throw', () => {
  const ops = fc.constantFrom('hello', 'list', 'stat', 'open', 'read', 'write', 'rpc', 'close', 'watch', 'unwatch', 'ping', 'nope')
  const anything = fc.anything({ withBigInt: true, withTypedArray: true, withNullPrototype: true, withMap: true, withSet: true })
  const piece = fc.record({ addr: fc.oneof(fc.bigInt(), anything), length: fc.oneof(fc.integer(), anything), data: fc.oneof(fc.uint8Array(), anything) }, { requiredKeys: [] })
  const request = fc.record({
    id: fc.oneof(fc.nat(), anything), op: fc.oneof(ops, anything), path: fc.oneof(fc.string(), anything), handle: fc.oneof(fc.nat(), anything),
    pieces: fc.oneof(fc.array(piece, { maxLength: 5 }), anything), version: fc.oneof(fc.record({ major: fc.nat(), minor: fc.nat() }), anything),
    client: anything, watchId: anything, token: anything, dataPath: fc.oneof(fc.string(), anything), dataKey: fc.oneof(fc.uint8Array(), anything), consumed: anything,
  }, { requiredKeys: [] })
  fc.assert(fc.property(fc.oneof(request, anything), (value) => {
    const parsed = parseRequest(value, 4)
    if (!parsed.ok) assert.ok(['protocol', 'too_large'].includes(parsed.error.kind))
  }), { numRuns: 2000 })
})
