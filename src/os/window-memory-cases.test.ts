/**
 * WindowMemory runs the shared MemoryView suite: a writable window onto a
 * BufferMemory, and a read-only window onto the test kit's PageMemory with
 * holes. Its own contract is in the oracle: offset 0 is the base, a piece
 * starting at or past the size fails out_of_bounds, one running past the
 * end comes back short.
 */
import { BufferMemory, virtAddr } from '../mem/index.js'
import type { VirtAddr } from '../mem/index.js'
import { caseBytes, runMemoryViewCases } from '../mem/memory-view.case.js'
import type { ExpectedRead, MemoryViewCaseSetup } from '../mem/memory-view.case.js'
import { PageMemory } from './os-test-kit.js'
import { WindowMemory } from './window-memory.js'

const BASE = 0x3000n
const SIZE = 0x500dn

function windowOracle(inner: (addr: bigint, length: number) => ExpectedRead): (addr: bigint, length: number) => ExpectedRead {
  return (addr, length) => {
    if (addr >= SIZE) return 'out_of_bounds'
    const clipped = addr + BigInt(length) > SIZE ? Number(SIZE - addr) : length
    return inner(BASE + addr, clipped)
  }
}

const boundaries = [0x1000n, 0x2000n, 0x3000n, 0x4000n, SIZE - 1n]

runMemoryViewCases('WindowMemory over BufferMemory (writable)', async (): Promise<MemoryViewCaseSetup> => {
  const bytes = caseBytes(0x10000, 31)
  const copy = bytes.slice()
  return {
    mem: new WindowMemory(new BufferMemory<VirtAddr>(bytes), virtAddr(BASE), SIZE),
    expected: windowOracle((addr, length) => copy.slice(Number(addr), Number(addr) + length)),
    writable: true,
    boundaries,
    writeAt: [0x100n, 0x4f00n],
  }
})

runMemoryViewCases('WindowMemory over PageMemory with holes (read-only)', async (): Promise<MemoryViewCaseSetup> => {
  const inner = new PageMemory()
  const pages = new Map<bigint, Uint8Array>()
  // Window pages 0, 1, 3 and the partial last page 5 are mapped; 2 and 4 are holes.
  for (const page of [0n, 1n, 3n, 5n]) {
    const data = caseBytes(4096, Number(page) + 40)
    inner.set(BASE + page * 4096n, data)
    pages.set(BASE / 4096n + page, data)
  }
  return {
    mem: new WindowMemory(inner, virtAddr(BASE), SIZE),
    expected: windowOracle((addr, length) => {
      const out = new Uint8Array(length)
      for (let i = 0; i < length; i++) {
        const at = addr + BigInt(i)
        const page = pages.get(at / 4096n)
        if (page === undefined) return 'unmapped'
        out[i] = page[Number(at % 4096n)] ?? 0
      }
      return out
    }),
    writable: false,
    boundaries,
    writeAt: [0x100n, 0x3100n],
  }
})
