import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MemweaveError } from '../errors/index.js'
import { BufferMemory, virtAddr } from '../mem/index.js'
import type { PieceResult, ReadPiece, VirtAddr, VirtualMemory } from '../mem/index.js'
import { WindowMemory } from './window-memory.js'

/** An inner memory with a bug: one result more than it was asked for. */
class OneTooMany extends BufferMemory<VirtAddr> implements VirtualMemory {
  override async read(pieces: readonly ReadPiece<VirtAddr>[]): Promise<PieceResult[]> {
    const results = await super.read(pieces)
    return [...results, { ok: true, data: new Uint8Array([0xee]) }]
  }
}

test('a result the inner memory was not asked for is an internal error, never written over piece 0', async () => {
  const window = new WindowMemory(new OneTooMany(new Uint8Array(0x100).fill(1)), virtAddr(0x10n), 0x80n)
  // Piece 0 is refused by the window itself (past its end), so a stray result would have landed there.
  await assert.rejects(window.read([{ addr: 0x100n, length: 1 }, { addr: 0n, length: 4 }]),
    (err: unknown) => err instanceof MemweaveError && err.origin === 'os' && err.kind === 'internal' && /2 results came back for 1 pieces/.test(err.message))
})
