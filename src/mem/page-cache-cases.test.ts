/**
 * PageCache over BufferMemory runs the shared MemoryView suite with a
 * bound of 3 pages, so random batches evict pages (even their own) while
 * they are assembled; and with a source whose size is not a page multiple.
 */
import { BufferMemory } from './buffer-memory.js'
import { caseBytes, flatOracle, runMemoryViewCases } from './memory-view.case.js'
import type { MemoryViewCaseSetup } from './memory-view.case.js'
import { PageCache } from './page-cache.js'

function cached(size: number, readonly = false): () => Promise<MemoryViewCaseSetup> {
  return async () => {
    const bytes = caseBytes(size, 3)
    const mem = new PageCache(new BufferMemory(bytes, { readonly }), { maxPages: 3 })
    return { mem, expected: flatOracle(bytes), writable: !readonly, boundaries: [0x1000n, 0x4ff0n, BigInt(size) - 1n] }
  }
}

// Both sources once failed pieces the source can serve (an empty piece at maxAddress, a
// piece on a partial last page); the cache now hands such pieces to the source as they are.
runMemoryViewCases('PageCache over BufferMemory (3 pages, 0xa000 bytes)', cached(0xa000))
runMemoryViewCases('PageCache over BufferMemory (read-only)', cached(0x6000, true))
runMemoryViewCases('PageCache over BufferMemory (0x9123 bytes: the last page is partial)', cached(0x9123))
