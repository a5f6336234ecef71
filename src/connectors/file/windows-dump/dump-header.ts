/**
 * The header of a Windows kernel crash dump (the first page of MEMORY.DMP),
 * 64-bit `PAGEDU64` (0x2000 bytes) or 32-bit `PAGEDUMP` (0x1000 bytes):
 *
 *   field                 64-bit  32-bit
 *   Signature 'PAGE'      0x00    0x00
 *   ValidDump 'DU64'/'DUMP' 0x04  0x04
 *   Major/MinorVersion    0x08    0x08     (minor = build number)
 *   DirectoryTableBase    0x10    0x10
 *   PfnDataBase           0x18    0x14
 *   PsLoadedModuleList    0x20    0x18
 *   PsActiveProcessHead   0x28    0x1c
 *   MachineImageType      0x30    0x20     (0x8664 x64, 0xaa64 arm64, 0x14c x86)
 *   NumberProcessors      0x34    0x24
 *   BugCheckCode, Params  0x38..  0x28..
 *   KdDebuggerDataBlock   0x80    0x60
 *   PhysicalMemoryBlock   0x88    0x64     (runs of a full dump; 'PAGE' filler otherwise)
 *   DumpType              0xf98   0xf88    (1 full, 2 kernel summary, 4 triage, 5/6 bitmap)
 *
 * Only facts are read here; which layout follows depends on DumpType.
 */
import { MemweaveError } from '../../../errors/index.js'
import { malformed, readStruct } from '../image-source.js'
import type { ImageSource } from '../image-source.js'

export const PAGE_BYTES = 4096

export const DUMP_TYPES: Readonly<Record<number, string>> = {
  1: 'full', 2: 'kernel-summary', 3: 'header-only', 4: 'triage', 5: 'bitmap-full', 6: 'bitmap-kernel', 7: 'automatic',
}

export const MACHINE_TYPES: Readonly<Record<number, string>> = { 0x8664: 'x86_64', 0xaa64: 'aarch64', 0x14c: 'x86' }

export interface PhysicalRun {
  readonly basePage: bigint
  readonly pageCount: bigint
}

export interface DumpHeader {
  readonly bits: 32 | 64
  /** Where the page data (or the bitmap / triage header) starts: the header's size. */
  readonly headerBytes: number
  readonly majorVersion: number
  readonly build: number
  readonly dumpType: number
  readonly dtb: bigint
  readonly pfnDatabase: bigint
  readonly psLoadedModuleList: bigint
  readonly psActiveProcessHead: bigint
  readonly machineType: number
  readonly processors: number
  readonly bugcheckCode: number
  readonly bugcheckParameters: readonly bigint[]
  readonly kdDebuggerDataBlock: bigint
  /** x86 only: PAE paging (3-level) in use. */
  readonly paeEnabled: boolean | undefined
  /** The PhysicalMemoryBlock runs, or undefined when the block holds 'PAGE' filler (triage, bitmap). */
  readonly runs: readonly PhysicalRun[] | undefined
  readonly numberOfPages: bigint | undefined
}

const SIGNATURE = 0x45474150 // 'PAGE'
const VALID_64 = 0x34365544 // 'DU64'
const VALID_32 = 0x504d5544 // 'DUMP'

/** Most runs the 64-bit block can hold (700 bytes - 16 for the counts, 16 per run), and the 32-bit one (8 per run). */
export const MAX_RUNS_64 = Math.floor((700 - 16) / 16)
export const MAX_RUNS_32 = Math.floor((700 - 8) / 8)

export function hasWindowsDumpMagic(head: Uint8Array): boolean {
  if (head.length < 8) return false
  const view = new DataView(head.buffer, head.byteOffset, 8)
  const valid = view.getUint32(4, true)
  return view.getUint32(0, true) === SIGNATURE && (valid === VALID_64 || valid === VALID_32)
}

export async function parseDumpHeader(source: ImageSource): Promise<DumpHeader> {
  const head = await readStruct(source, 0, 8, 'crash dump signature')
  if (!hasWindowsDumpMagic(head)) throw malformed(source, 'not a Windows crash dump (no PAGEDU64 / PAGEDUMP signature)')
  const bits = new DataView(head.buffer, head.byteOffset, 8).getUint32(4, true) === VALID_64 ? 64 : 32
  const headerBytes = bits === 64 ? 2 * PAGE_BYTES : PAGE_BYTES
  const bytes = await readStruct(source, 0, headerBytes, `${bits}-bit crash dump header`)
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return bits === 64 ? header64(v) : header32(v)
}

function header64(v: DataView): DumpHeader {
  const u64 = (at: number): bigint => v.getBigUint64(at, true)
  const runsPresent = v.getUint32(0x88, true) !== SIGNATURE
  const count = v.getUint32(0x88, true)
  let runs: PhysicalRun[] | undefined
  if (runsPresent) {
    if (count > MAX_RUNS_64) throw new MemweaveError('connector', 'malformed', `crash dump header: ${count} physical memory runs, but the block holds at most ${MAX_RUNS_64}`)
    runs = Array.from({ length: count }, (_, i) => ({ basePage: u64(0x98 + i * 16), pageCount: u64(0xa0 + i * 16) }))
  }
  return {
    bits: 64,
    headerBytes: 2 * PAGE_BYTES,
    majorVersion: v.getUint32(0x08, true),
    build: v.getUint32(0x0c, true),
    dumpType: v.getUint32(0xf98, true),
    dtb: u64(0x10),
    pfnDatabase: u64(0x18),
    psLoadedModuleList: u64(0x20),
    psActiveProcessHead: u64(0x28),
    machineType: v.getUint32(0x30, true),
    processors: v.getUint32(0x34, true),
    bugcheckCode: v.getUint32(0x38, true),
    bugcheckParameters: [u64(0x40), u64(0x48), u64(0x50), u64(0x58)],
    kdDebuggerDataBlock: u64(0x80),
    paeEnabled: undefined,
    runs,
    numberOfPages: runsPresent ? u64(0x90) : undefined,
  }
}

function header32(v: DataView): DumpHeader {
  const u32 = (at: number): number => v.getUint32(at, true)
  const count = u32(0x64)
  const runsPresent = count !== SIGNATURE
  let runs: PhysicalRun[] | undefined
  if (runsPresent) {
    if (count > MAX_RUNS_32) throw new MemweaveError('connector', 'malformed', `crash dump header: ${count} physical memory runs, but the block holds at most ${MAX_RUNS_32}`)
    runs = Array.from({ length: count }, (_, i) => ({ basePage: BigInt(u32(0x6c + i * 8)), pageCount: BigInt(u32(0x70 + i * 8)) }))
  }
  return {
    bits: 32,
    headerBytes: PAGE_BYTES,
    majorVersion: u32(0x08),
    build: u32(0x0c),
    dumpType: u32(0xf88),
    dtb: BigInt(u32(0x10)),
    pfnDatabase: BigInt(u32(0x14)),
    psLoadedModuleList: BigInt(u32(0x18)),
    psActiveProcessHead: BigInt(u32(0x1c)),
    machineType: u32(0x20),
    processors: u32(0x24),
    bugcheckCode: u32(0x28),
    bugcheckParameters: [BigInt(u32(0x2c)), BigInt(u32(0x30)), BigInt(u32(0x34)), BigInt(u32(0x38))],
    kdDebuggerDataBlock: BigInt(u32(0x60)),
    paeEnabled: v.getUint8(0x5c) !== 0,
    runs,
    numberOfPages: runsPresent ? BigInt(u32(0x68)) : undefined,
  }
}
