/**
 * BufferMemory runs the shared MemoryView suite: a writable buffer whose
 * size is not a page multiple, and a read-only one; the oracle is a copy
 * of the bytes taken at setup. Skips name a case by its key.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MemweaveError } from '../errors/index.js'
import { BufferMemory } from './buffer-memory.js'
import { MEMORY_VIEW_CASES, caseBytes, flatOracle, runMemoryViewCases } from './memory-view.case.js'
import type { MemoryViewCaseKey, MemoryViewCaseSetup } from './memory-view.case.js'

function flat(size: number, readonly: boolean): () => Promise<MemoryViewCaseSetup> {
  return async () => {
    const bytes = caseBytes(size)
    return { mem: new BufferMemory(bytes, { readonly }), expected: flatOracle(bytes), writable: !readonly, boundaries: [0x1000n, 0x2ffen, BigInt(size) - 1n] }
  }
}

runMemoryViewCases('BufferMemory (writable, 0x9123 bytes)', flat(0x9123, false))
runMemoryViewCases('BufferMemory (read-only)', flat(0x4000, true))

test('skips are keyed by case key (not the English title) and need a reason', () => {
  const setup = flat(0x1000, false)
  const refused = (pattern: RegExp) => (err: unknown): boolean => err instanceof MemweaveError && err.kind === 'invalid_argument' && pattern.test(err.message)
  const byTitle: Partial<Record<MemoryViewCaseKey, string>> = Object.fromEntries([[MEMORY_VIEW_CASES.writes, 'written as a title']])
  assert.throws(() => runMemoryViewCases('titles', setup, { skip: byTitle }), refused(/skip names an unknown case 'writes are refused/))
  assert.throws(() => runMemoryViewCases('no reason', setup, { skip: { writes: ' ' } }), refused(/skipping 'writes' needs a reason/))
})
