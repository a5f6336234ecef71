/** Cutting big pieces into chunks and gluing the chunks' results back, one result per piece. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MemweaveError } from '../errors/index.js'
import { chunkPieces, mergeChunks } from './client-chunks.js'

test('pieces are cut into chunks in order, each landing at its place; a small or empty piece stays one chunk', () => {
  const chunked = chunkPieces([{ addr: 100n, length: 10, at: 0 }, { addr: 0n, length: 0, at: 10 }, { addr: 7n, length: 3, at: 10 }], 4)
  assert.deepEqual(chunked.chunks, [
    { addr: 100n, length: 4, at: 0 }, { addr: 104n, length: 4, at: 4 }, { addr: 108n, length: 2, at: 8 },
    { addr: 0n, length: 0, at: 10 }, { addr: 7n, length: 3, at: 10 },
  ])
  assert.deepEqual(chunked.owners, [0, 0, 0, 1, 2])
})

test('results glue back: all full, short at the end of a leaf, the first failure fails the piece alone', () => {
  const pieces = [{ addr: 0n, length: 8, at: 0 }, { addr: 100n, length: 8, at: 8 }, { addr: 200n, length: 8, at: 16 }]
  const chunked = chunkPieces(pieces, 4)
  const failure = new MemweaveError('mem', 'unmapped', 'not mapped')
  const merged = mergeChunks(3, chunked, [
    { ok: true, length: 4 }, { ok: true, length: 4 },
    { ok: true, length: 4 }, { ok: true, length: 1 },
    { ok: true, length: 4 }, { ok: false, error: failure },
  ])
  assert.deepEqual(merged, [{ ok: true, length: 8 }, { ok: true, length: 5 }, { ok: false, error: failure }])
  // A short chunk ends the piece: what comes after it (past the end of the leaf) does not count.
  assert.deepEqual(mergeChunks(1, chunkPieces([{ addr: 0n, length: 8, at: 0 }], 4), [{ ok: true, length: 2 }, { ok: true, length: 0 }]), [{ ok: true, length: 2 }])
})
