import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MemweaveError } from '../errors/index.js'
import type { ChunkSource } from './plugin-backend.js'
import { StreamedReader } from './streamed-read.js'

/** A source of `count` chunks of `size` bytes, byte i = i % 251; counts how many chunks were produced. */
function counting(count: number, size: number, failAt?: number): { open: () => Promise<ChunkSource>; produced: () => number; opens: () => number } {
  let produced = 0
  let opens = 0
  return {
    produced: () => produced,
    opens: () => opens,
    open: async () => {
      opens++
      let next = 0
      return {
        next: async () => {
          if (next === failAt) throw new MemweaveError('plugin', 'io', 'source broke')
          if (next >= count) return undefined
          const chunk = Uint8Array.from({ length: size }, (_, i) => (next * size + i) % 251)
          next++
          produced++
          return chunk
        },
        close: async () => {},
      }
    },
  }
}

function expected(from: number, length: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (from + i) % 251)
}

test('reads pieces in any order from one pass, short at the end, empty past it', async () => {
  const source = counting(10, 1000)
  const reader = new StreamedReader(await source.open(), source.open, 'test stream', 4000)
  const results = await reader.read([{ addr: 2500n, length: 700 }, { addr: 100n, length: 50 }, { addr: 9900n, length: 500 }, { addr: 20_000n, length: 5 }])
  assert.deepEqual(results.map((r) => (r.ok ? [...r.data] : r.error.message)), [
    [...expected(2500, 700)], [...expected(100, 50)], [...expected(9900, 100)], [],
  ])
  assert.equal(source.opens(), 1)
  assert.equal(reader.restarts, 0)
})

test('keeps only a window: a read far behind restarts the stream; nearby rewinds do not', async () => {
  const source = counting(100, 1000)
  const reader = new StreamedReader(await source.open(), source.open, 'test stream', 4000)
  const [far] = await reader.read([{ addr: 50_000n, length: 10 }])
  assert.ok(far?.ok)
  const [near] = await reader.read([{ addr: 47_500n, length: 10 }])
  assert.ok(near?.ok && near.data[0] === 47_500 % 251, 'within the window: no restart')
  assert.equal(reader.restarts, 0)
  const [start] = await reader.read([{ addr: 10n, length: 10 }])
  assert.ok(start?.ok)
  assert.deepEqual([...start.data], [...expected(10, 10)])
  assert.equal(reader.restarts, 1)
  assert.equal(source.opens(), 2)
})

test('a failing source fails the pieces it cannot serve, not the ones before', async () => {
  const source = counting(10, 1000, 3)
  const reader = new StreamedReader(await source.open(), source.open, 'test stream')
  const [before, after] = await reader.read([{ addr: 0n, length: 3000 }, { addr: 2900n, length: 200 }])
  assert.ok(before?.ok && before.data.length === 3000)
  assert.ok(after !== undefined && !after.ok && /test stream at offset 3000.*source broke/.test(after.error.message))
})
