/**
 * Read-ahead over a real tree: sequential 128 KiB reads (what the kernel
 * sends for dd bs=1M) are served from 1 MiB windows fetched ahead, random
 * reads go straight through, and every byte matches the source either way.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { BufferMemory } from '../../mem/index.js'
import { LocalTreeClient } from '../../net/index.js'
import type { PieceResult, ReadPiece } from '../../net/index.js'
import { Lifetime, memLeaf, staticBranch, Tree } from '../../tree/index.js'
import type { PieceReader } from './hole-read.js'
import { ReadAhead } from './read-ahead.js'

const SIZE = 4 << 20
const CHUNK = 128 << 10
const WINDOW = 1 << 20

async function setup(maxAgeMs = 1000): Promise<{ readAhead: ReadAhead; source: Uint8Array; calls: { addr: bigint; length: number }[] }> {
  const source = new Uint8Array(SIZE).map((_, i) => (i * 2654435761) >>> 24)
  const tree = new Tree({ allowWrite: false })
  tree.setRoot(staticBranch({ mem: memLeaf({ identity: 'test/mem', lifetime: new Lifetime('test'), mem: new BufferMemory(source) }) }))
  const client = new LocalTreeClient(tree)
  const { handle } = await client.open('mem')
  const calls: { addr: bigint; length: number }[] = []
  const reader: PieceReader = {
    read: (h: number, pieces: readonly ReadPiece[]): Promise<PieceResult[]> => {
      for (const p of pieces) calls.push({ addr: p.addr, length: p.length })
      return client.read(h, pieces)
    },
  }
  const readAhead = new ReadAhead(reader, handle, { windowBytes: WINDOW, maxAgeMs, zeroFillUnmapped: true, sizeBytes: BigInt(SIZE) })
  return { readAhead, source, calls }
}

test('sequential reads are served from windows fetched ahead', async () => {
  const { readAhead, source, calls } = await setup()
  for (let at = 0; at < SIZE; at += CHUNK) {
    const data = await readAhead.read(BigInt(at), CHUNK)
    assert.deepEqual(data, source.subarray(at, at + CHUNK), `bytes at ${at}`)
  }
  // The first read goes straight through (nothing says it is sequential yet); then whole windows.
  assert.deepEqual(calls[0], { addr: 0n, length: CHUNK })
  assert.ok(calls.slice(1).every((c) => c.length === WINDOW || BigInt(c.length) + c.addr === BigInt(SIZE)), JSON.stringify(calls.map((c) => c.length)))
  assert.ok(calls.length <= 6, `${calls.length} tree reads for ${SIZE / CHUNK} sequential chunks`)
  assert.ok(calls.every((c) => c.addr + BigInt(c.length) <= BigInt(SIZE)), 'windows stop at the end of the leaf')
})

test('random reads go straight to the tree with exactly the range asked', async () => {
  const { readAhead, source, calls } = await setup()
  const offsets = [3 << 20, 4096, 2 << 20, 77777]
  for (const at of offsets) assert.deepEqual(await readAhead.read(BigInt(at), 4096), source.subarray(at, at + 4096))
  assert.deepEqual(calls, offsets.map((at) => ({ addr: BigInt(at), length: 4096 })))
})

test('windows past their age are fetched again, and bytes still match', async () => {
  const { readAhead, source, calls } = await setup(-1)
  for (let at = 0; at < 8 * CHUNK; at += CHUNK) assert.deepEqual(await readAhead.read(BigInt(at), CHUNK), source.subarray(at, at + CHUNK))
  // No window is ever young enough to reuse: every sequential read fetches one.
  assert.equal(calls.length, 8)
})
