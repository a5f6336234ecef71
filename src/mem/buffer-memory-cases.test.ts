/**
 * BufferMemory runs the shared MemoryView suite: a writable buffer whose
 * size is not a page multiple, and a read-only one; the oracle is a copy
 * of the bytes taken at setup.
 */
import { BufferMemory } from './buffer-memory.js'
import { caseBytes, flatOracle, runMemoryViewCases } from './memory-view.case.js'
import type { MemoryViewCaseSetup } from './memory-view.case.js'

function flat(size: number, readonly: boolean): () => Promise<MemoryViewCaseSetup> {
  return async () => {
    const bytes = caseBytes(size)
    return { mem: new BufferMemory(bytes, { readonly }), expected: flatOracle(bytes), writable: !readonly, boundaries: [0x1000n, 0x2ffen, BigInt(size) - 1n] }
  }
}

runMemoryViewCases('BufferMemory (writable, 0x9123 bytes)', flat(0x9123, false))
runMemoryViewCases('BufferMemory (read-only)', flat(0x4000, true))
