/**
 * PreadMemory runs the shared MemoryView suite over a regular temp file:
 * guest ranges map to scattered, out-of-order file positions (two of them
 * adjacent in guest space), read-only and writable (fd opened r+), default
 * (gaps read as zeros) and strict (gaps fail 'unmapped').
 */
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { RangeMap } from '../../mem/index.js'
import type { MappedRange } from '../../mem/index.js'
import { caseBytes, runMemoryViewCases } from '../../mem/memory-view.case.js'
import type { ExpectedRead, MemoryViewCaseSetup } from '../../mem/memory-view.case.js'
import { PreadMemory } from './pread-memory.js'

const FILE_BYTES = 0x30000
const RANGES: readonly MappedRange[] = [
  { start: 0x1000n, length: 0x3000n, backing: 0x8000n },
  { start: 0x4000n, length: 0x800n, backing: 0x100n }, // adjacent to the first in guest space, far away in the file
  { start: 0x7000n, length: 0x2000n, backing: 0x20000n },
]
const MAX_ADDRESS = 0x9000n

function preadOracle(content: Uint8Array, strict: boolean): (addr: bigint, length: number) => ExpectedRead {
  const copy = content.slice()
  return (addr, length) => {
    if (addr + BigInt(length) > MAX_ADDRESS) return 'out_of_bounds'
    const out = new Uint8Array(length)
    for (let i = 0; i < length; i++) {
      const a = addr + BigInt(i)
      const r = RANGES.find((m) => a >= m.start && a < m.start + m.length)
      if (r === undefined) { if (strict) return 'unmapped'; continue }
      out[i] = copy[Number(r.backing + (a - r.start))] ?? 0
    }
    return out
  }
}

function setupFor(strict: boolean, writable: boolean): () => Promise<MemoryViewCaseSetup> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mw-pread-cases-'))
    const path = join(dir, 'backing.bin')
    const content = caseBytes(FILE_BYTES, 21)
    writeFileSync(path, content)
    const fd = openSync(path, writable ? 'r+' : 'r')
    const mem = new PreadMemory({
      name: 'test file', fd, writable, map: new RangeMap([...RANGES]), strict, volatile: false,
      guard: { blocked: () => undefined, readFailed: async () => undefined },
    })
    return {
      mem,
      expected: preadOracle(content, strict),
      writable,
      boundaries: RANGES.flatMap((r) => [r.start, r.start + r.length]),
      writeAt: RANGES.map((r) => r.start + 0x40n),
      close: async () => { await mem.idle(); closeSync(fd); rmSync(dir, { recursive: true, force: true }) },
    }
  }
}

runMemoryViewCases('PreadMemory over a file (read-only)', setupFor(false, false))
runMemoryViewCases('PreadMemory over a file (writable)', setupFor(false, true))
runMemoryViewCases('PreadMemory over a file (strict, writable)', setupFor(true, true))
