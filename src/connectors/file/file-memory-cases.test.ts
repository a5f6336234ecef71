/**
 * The file connector's memory runs the shared MemoryView suite on real temp
 * files: a raw image (read-only and writable), an ELF core with gaps and a
 * p_memsz zero tail, and a LiME image with gaps, each in default mode
 * (gaps read as zeros) and strict mode (gaps fail 'unmapped').
 */
import { caseBytes, runMemoryViewCases } from '../../mem/memory-view.case.js'
import type { ExpectedRead, MemoryViewCaseSetup } from '../../mem/memory-view.case.js'
import { writeElfCore, writeLime } from './image-writers.js'
import type { ImageRange } from './image-writers.js'
import { openImage, tempDir } from './file-test-kit.js'

interface ImageCase {
  readonly label: string
  readonly format: 'raw' | 'elf' | 'lime'
  readonly ranges: readonly ImageRange[]
  readonly strict: boolean
  readonly writable: boolean
}

const RAW_BYTES = 0x9123
const GAPPED: readonly ImageRange[] = [
  { addr: 0x1000n, data: caseBytes(0x1800, 11) },
  { addr: 0x4000n, data: caseBytes(0x1000, 12), memSizeBytes: 0x2000n }, // 0x5000..0x6000 is a zero tail (ELF only)
  { addr: 0x8000n, data: caseBytes(0xff0, 13) },
]

function rangeEnd(r: ImageRange): bigint {
  return r.addr + (r.memSizeBytes ?? BigInt(r.data.length))
}

/** Byte-by-byte model of an image: range bytes, zero tails, gaps as zeros (or unmapped when strict), out_of_bounds past the last range. */
function imageOracle(ranges: readonly ImageRange[], strict: boolean): (addr: bigint, length: number) => ExpectedRead {
  const copies = ranges.map((r) => ({ ...r, data: r.data.slice() }))
  const max = copies.reduce((m, r) => (rangeEnd(r) > m ? rangeEnd(r) : m), 0n)
  return (addr, length) => {
    if (addr + BigInt(length) > max) return 'out_of_bounds'
    const out = new Uint8Array(length)
    for (let i = 0; i < length; i++) {
      const a = addr + BigInt(i)
      const r = copies.find((c) => a >= c.addr && a < rangeEnd(c))
      if (r === undefined) { if (strict) return 'unmapped'; continue }
      out[i] = r.data[Number(a - r.addr)] ?? 0
    }
    return out
  }
}

function imageBytes(c: ImageCase): Uint8Array {
  if (c.format === 'raw') return c.ranges[0]!.data
  if (c.format === 'elf') return writeElfCore(c.ranges)
  return writeLime(c.ranges.map((r) => ({ addr: r.addr, data: r.data })))
}

function setupFor(c: ImageCase): () => Promise<MemoryViewCaseSetup> {
  return async () => {
    const dir = await tempDir('mw-file-cases-')
    const args = [`format=${c.format}`, ...(c.strict ? ['strict=true'] : [])].join(',')
    const connector = await openImage(dir, `image.${c.format}`, imageBytes(c), args, c.writable)
    const boundaries = c.ranges.flatMap((r) => [r.addr, r.addr + BigInt(r.data.length), rangeEnd(r)])
    return {
      mem: connector.mem,
      expected: imageOracle(c.ranges, c.strict),
      writable: c.writable,
      boundaries,
      // Inside the file-backed bytes of each range: gaps and zero tails have nothing to write to.
      writeAt: c.ranges.map((r) => r.addr + 0x100n),
      close: async () => { await connector.close(); await dir.remove() },
    }
  }
}

const LIME_RANGES = GAPPED.map((r) => ({ addr: r.addr, data: r.data }))
const CASES: readonly ImageCase[] = [
  { label: 'raw, read-only', format: 'raw', ranges: [{ addr: 0n, data: caseBytes(RAW_BYTES, 10) }], strict: false, writable: false },
  { label: 'raw, writable', format: 'raw', ranges: [{ addr: 0n, data: caseBytes(RAW_BYTES, 10) }], strict: false, writable: true },
  { label: 'ELF with gaps and a zero tail', format: 'elf', ranges: GAPPED, strict: false, writable: false },
  { label: 'ELF with gaps and a zero tail, strict', format: 'elf', ranges: GAPPED, strict: true, writable: false },
  { label: 'ELF with gaps and a zero tail, writable', format: 'elf', ranges: GAPPED, strict: false, writable: true },
  { label: 'LiME with gaps', format: 'lime', ranges: LIME_RANGES, strict: false, writable: false },
  { label: 'LiME with gaps, strict, writable', format: 'lime', ranges: LIME_RANGES, strict: true, writable: true },
]

for (const c of CASES) runMemoryViewCases(`file connector mem (${c.label})`, setupFor(c))
