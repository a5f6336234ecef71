/** The read batcher: concurrent reads of one handle travel as one request, and each caller gets exactly its own results. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MemweaveError } from '../../errors/index.js'
import { BufferMemory } from '../../mem/index.js'
import type { PieceResult, ReadPiece } from '../../mem/index.js'
import { ReadBatcher } from './peer-read-batcher.js'

const source = new BufferMemory(new Uint8Array(1 << 16).map((_, i) => i & 0xff))

function counting(): { batcher: ReadBatcher; sent: ReadPiece[][] } {
  const sent: ReadPiece[][] = []
  const batcher = new ReadBatcher(async (pieces) => { sent.push([...pieces]); return source.read(pieces) })
  return { batcher, sent }
}

test('reads issued together go out as one request and come back per caller, in order', async () => {
  const { batcher, sent } = counting()
  const calls = Array.from({ length: 50 }, (_, i) => batcher.read([{ addr: BigInt(i * 100), length: 4 }, { addr: BigInt(i * 100 + 50), length: 2 }]))
  const results = await Promise.all(calls)
  assert.equal(sent.length, 1)
  assert.equal(sent[0]?.length, 100)
  results.forEach((pair, i) => {
    assert.equal(pair.length, 2)
    assert.deepEqual(pair.map((r) => (r.ok ? [...r.data] : [])), [[0, 1, 2, 3].map((k) => (i * 100 + k) & 0xff), [0, 1].map((k) => (i * 100 + 50 + k) & 0xff)])
  })
})

test('a per-piece error stays with its piece; a failed request fails every caller in it', async () => {
  const { batcher } = counting()
  const [good, bad] = await Promise.all([batcher.read([{ addr: 0n, length: 4 }]), batcher.read([{ addr: 1n << 20n, length: 4 }])])
  assert.equal(good?.[0]?.ok, true)
  assert.equal(bad?.[0]?.ok, false)
  const failing = new ReadBatcher(async (): Promise<PieceResult[]> => { throw new MemweaveError('net', 'stale', 'gone') })
  const outcomes = await Promise.allSettled([failing.read([{ addr: 0n, length: 1 }]), failing.read([{ addr: 1n, length: 1 }])])
  assert.deepEqual(outcomes.map((o) => o.status), ['rejected', 'rejected'])
})

test('a later turn starts a new request, and huge merges are split', async () => {
  const { batcher, sent } = counting()
  await batcher.read([{ addr: 0n, length: 1 }])
  await batcher.read([{ addr: 1n, length: 1 }])
  assert.equal(sent.length, 2)
  sent.length = 0
  const big = Array.from({ length: 3 }, () => batcher.read(Array.from({ length: 3000 }, (_, i) => ({ addr: BigInt(i), length: 1 }))))
  const results = await Promise.all(big)
  assert.ok(sent.length >= 2, 'more than 4096 pieces are not merged into one request')
  assert.ok(results.every((r) => r.length === 3000))
})
