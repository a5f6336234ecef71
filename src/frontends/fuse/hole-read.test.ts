/**
 * readRange against a real tree: memory with unmapped pages reads as zeros
 * there (asked page by page only after the whole range failed), other
 * errors fail the read, and zero-fill can be turned off.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MemweaveError } from '../../errors/index.js'
import type { MemMetadata, MemoryView, PieceResult, ReadPiece, WriteResult } from '../../mem/index.js'
import { LocalTreeClient } from '../../net/index.js'
import type { PieceResult as ClientResult, ReadPiece as ClientPiece } from '../../net/index.js'
import { Lifetime, memLeaf, staticBranch, Tree } from '../../tree/index.js'
import { PAGE_BYTES, pagePieces, readRange } from './hole-read.js'
import type { PieceReader } from './hole-read.js'

/** 16 pages where only the listed ones are mapped; page p holds the byte p + 1. */
class SparseMemory implements MemoryView {
  broken = false
  constructor(private readonly mapped: ReadonlySet<number>) {}
  async read(pieces: readonly ReadPiece[]): Promise<PieceResult[]> {
    return pieces.map((piece): PieceResult => {
      if (this.broken) return { ok: false, error: new MemweaveError('mem', 'io', 'device gone') }
      const first = Number(piece.addr) / PAGE_BYTES
      const last = (Number(piece.addr) + piece.length - 1) / PAGE_BYTES
      for (let p = Math.floor(first); p <= Math.floor(last); p++) {
        if (!this.mapped.has(p)) return { ok: false, error: new MemweaveError('mem', 'unmapped', `page ${p} is not mapped`) }
      }
      const data = new Uint8Array(piece.length)
      for (let i = 0; i < piece.length; i++) data[i] = Math.floor((Number(piece.addr) + i) / PAGE_BYTES) + 1
      return { ok: true, data }
    })
  }
  async write(): Promise<WriteResult[]> { return [] }
  metadata(): MemMetadata { return { maxAddress: BigInt(16 * PAGE_BYTES), idealBatchSize: 64, readonly: true, volatile: false } }
}

function setup(mapped: number[]): { client: LocalTreeClient; reader: PieceReader; memory: SparseMemory; calls: number[] } {
  const memory = new SparseMemory(new Set(mapped))
  const tree = new Tree({ allowWrite: false })
  tree.setRoot(staticBranch({ mem: memLeaf({ identity: 'test/mem', lifetime: new Lifetime('test'), mem: memory }) }))
  const client = new LocalTreeClient(tree)
  const calls: number[] = []
  // Counts tree reads (pieces per call) on the way through.
  const reader: PieceReader = {
    read: (handle: number, pieces: readonly ClientPiece[]): Promise<ClientResult[]> => { calls.push(pieces.length); return client.read(handle, pieces) },
  }
  return { client, reader, memory, calls }
}

test('page pieces split at page boundaries', () => {
  assert.deepEqual(pagePieces(0x0ffen, 0x1004), [{ addr: 0x0ffen, length: 2 }, { addr: 0x1000n, length: 0x1000 }, { addr: 0x2000n, length: 2 }])
  assert.deepEqual(pagePieces(0x2000n, 0x1000), [{ addr: 0x2000n, length: 0x1000 }])
})

test('a mapped range is one read; holes read as zeros and only they', async () => {
  const { client, reader, calls } = setup([0, 1, 3])
  const { handle } = await client.open('mem')
  const whole = await readRange(reader, handle, 0n, 2 * PAGE_BYTES, true)
  assert.deepEqual(calls, [1])
  assert.ok(whole.subarray(0, PAGE_BYTES).every((b) => b === 1) && whole.subarray(PAGE_BYTES).every((b) => b === 2))

  calls.length = 0
  const holes = await readRange(reader, handle, 0x800n, 4 * PAGE_BYTES, true)
  assert.deepEqual(calls, [1, 5], 'the whole range first, then page by page')
  const expected = new Uint8Array(4 * PAGE_BYTES).map((_, i) => [1, 2, 0, 4, 0][Math.floor((0x800 + i) / PAGE_BYTES)] ?? 99)
  assert.deepEqual(holes, expected)

  const nothing = await readRange(reader, handle, BigInt(8 * PAGE_BYTES), PAGE_BYTES, true)
  assert.deepEqual(nothing, new Uint8Array(PAGE_BYTES))
})

test('without zero-fill a hole fails the read; other errors always do', async () => {
  const { client, reader, memory } = setup([0])
  const { handle } = await client.open('mem')
  await assert.rejects(readRange(reader, handle, 0n, 2 * PAGE_BYTES, false), (err: unknown) => err instanceof MemweaveError && err.kind === 'unmapped')
  memory.broken = true
  await assert.rejects(readRange(reader, handle, 0n, PAGE_BYTES, true), (err: unknown) => err instanceof MemweaveError && err.kind === 'io')
})
