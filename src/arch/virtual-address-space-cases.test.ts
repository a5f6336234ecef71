/**
 * VirtualAddressSpace runs the shared MemoryView suite over seeded
 * FakePageTables (4- and 5-level; 4 KiB, 2 MiB and 1 GiB pages; random
 * permissions and noise bits). The fake's own lookup plus the raw physical
 * bytes are the oracle; boundaries are the starts and ends of its pages.
 */
import { isCanonical, X64_4LEVEL, X64_5LEVEL } from './paging-mode.js'
import type { PagingMode } from './paging-mode.js'
import { FakePageTables } from './fake-page-tables.js'
import { VirtualAddressSpace } from './virtual-address-space.js'
import { runMemoryViewCases } from '../mem/memory-view.case.js'
import type { ExpectedRead, MemoryViewCaseSetup } from '../mem/memory-view.case.js'

/** The fake's answer, sharing no code with the walker: non-canonical → out_of_bounds, a hole → unmapped, else the bytes. */
function fakeOracle(fake: FakePageTables): (addr: bigint, length: number) => ExpectedRead {
  return (addr, length) => {
    if (length === 0) return new Uint8Array(0)
    if (!isCanonical(fake.mode, addr) || !isCanonical(fake.mode, addr + BigInt(length - 1))) return 'out_of_bounds'
    const out = new Uint8Array(length)
    let done = 0
    while (done < length) {
      const virt = addr + BigInt(done)
      const m = fake.lookup(virt)
      if (m === undefined) return 'unmapped'
      const n = Math.min(4096 - Number(virt % 4096n), length - done)
      fake.mem.peek(Number(m.phys + (virt - m.virt)), out.subarray(done, done + n))
      done += n
    }
    return out
  }
}

function setupFor(mode: PagingMode, seed: number, readonly: boolean): () => Promise<MemoryViewCaseSetup> {
  return async () => {
    const fake = new FakePageTables(mode, { seed, fill: 'pattern', readonly })
    fake.populate(150)
    const maps = fake.mappings()
    return {
      mem: new VirtualAddressSpace(fake.mem, fake.dtb, mode),
      expected: fakeOracle(fake),
      writable: !readonly,
      boundaries: maps.flatMap((m) => [m.virt, m.virt + BigInt(m.pageBytes)]),
      // Inside 4 KiB pages, so the written bytes and their neighbours share one physical page.
      writeAt: maps.filter((m) => m.pageBytes === 4096).slice(0, 3).map((m) => m.virt + 1024n),
    }
  }
}

runMemoryViewCases('VirtualAddressSpace over FakePageTables (4-level, writable)', setupFor(X64_4LEVEL, 101, false))
runMemoryViewCases('VirtualAddressSpace over FakePageTables (4-level, read-only)', setupFor(X64_4LEVEL, 102, true))
runMemoryViewCases('VirtualAddressSpace over FakePageTables (5-level, writable)', setupFor(X64_5LEVEL, 103, false))
