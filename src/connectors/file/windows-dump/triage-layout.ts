/**
 * A triage ("small", "minidump") kernel dump (DumpType 4, 64-bit): no
 * physical layout at all, only blocks of kernel virtual memory, each keyed
 * by its virtual address, plus copies of a few structures at fixed offsets.
 * The TRIAGE_DUMP64 header follows the 0x2000-byte dump header; its offsets
 * are from the start of the file:
 *
 *   +0x20 ProcessOffset   (EPROCESS copy)     +0x24 ThreadOffset (ETHREAD copy, up to +0x28 CallStackOffset)
 *   +0x30 DriverListOffset, DriverCount        (0x90-byte entries: name offset, KLDR_DATA_TABLE_ENTRY64)
 *   +0x38 StringPoolOffset, StringPoolSize     (u32 length in UTF-16 units, then the chars)
 *   +0x70 DebuggerDataOffset, DebuggerDataSize (the KDBG block, KDDEBUGGER_DATA64)
 *   +0x78 DataBlocksOffset, DataBlocksCount    (16-byte entries: u64 address, u32 offset, u32 size)
 *
 * The blocks become ranges of a sparse *virtual* space; the KDBG copy is
 * placed at KdDebuggerDataBlock when no block already covers it.
 */
import { MemweaveError } from '../../../errors/index.js'
import type { TriageDriver } from '../../connector.js'
import { MAX_IMAGE_RANGES } from '../image-layout.js'
import type { ImageSegment } from '../image-layout.js'
import { malformed, readStruct } from '../image-source.js'
import type { ImageSource } from '../image-source.js'
import type { DumpHeader } from './dump-header.js'

const TRIAGE_HEADER_BYTES = 0x80
const BLOCK_BYTES = 16
const DRIVER_ENTRY_BYTES = 0x90
/** More drivers than any system loads; a count past this is hostile. */
const MAX_DRIVERS = 8192
/** A copied EPROCESS / ETHREAD is a few KiB; more is not a structure copy. */
const MAX_COPY_BYTES = 0x4000

export interface TriageFacts {
  readonly blockCount: number
  readonly blockBytes: number
  readonly debuggerData: Uint8Array | undefined
  readonly process: Uint8Array | undefined
  readonly thread: Uint8Array | undefined
  readonly drivers: readonly TriageDriver[]
  /** Whether the KDBG copy was placed at KdDebuggerDataBlock in the virtual space. */
  readonly debuggerDataMapped: boolean
}

interface TriageOffsets {
  readonly process: number
  readonly thread: number
  readonly callStack: number
  readonly driverList: number
  readonly driverCount: number
  readonly stringPool: number
  readonly stringPoolBytes: number
  readonly debuggerData: number
  readonly debuggerDataBytes: number
  readonly blocks: number
  readonly blockCount: number
}

async function readOffsets(source: ImageSource, at: number): Promise<TriageOffsets> {
  const bytes = await readStruct(source, at, TRIAGE_HEADER_BYTES, 'triage dump header')
  const v = new DataView(bytes.buffer, bytes.byteOffset, TRIAGE_HEADER_BYTES)
  const u = (o: number): number => v.getUint32(o, true)
  return {
    process: u(0x20), thread: u(0x24), callStack: u(0x28), driverList: u(0x30), driverCount: u(0x34), stringPool: u(0x38), stringPoolBytes: u(0x3c),
    debuggerData: u(0x70), debuggerDataBytes: u(0x74), blocks: u(0x78), blockCount: u(0x7c),
  }
}

/** A copy at `offset` of up to `length` bytes, or undefined when absent (offset 0) or not inside the file. */
async function optionalCopy(source: ImageSource, offset: number, length: number): Promise<Uint8Array | undefined> {
  if (offset === 0 || length === 0 || length > MAX_COPY_BYTES || offset + length > source.sizeBytes) return undefined
  return (await source.read(offset, length)).slice()
}

async function readDrivers(source: ImageSource, o: TriageOffsets): Promise<TriageDriver[]> {
  if (o.driverList === 0 || o.driverCount === 0) return []
  if (o.driverCount > MAX_DRIVERS) throw malformed(source, `triage dump: ${o.driverCount} drivers listed (at most ${MAX_DRIVERS} are plausible)`)
  const list = await readStruct(source, o.driverList, o.driverCount * DRIVER_ENTRY_BYTES, 'triage driver list')
  const pool = o.stringPool !== 0 && o.stringPool + o.stringPoolBytes <= source.sizeBytes ? await source.read(o.stringPool, o.stringPoolBytes) : new Uint8Array(0)
  const poolView = new DataView(pool.buffer, pool.byteOffset, pool.byteLength)
  const v = new DataView(list.buffer, list.byteOffset, list.byteLength)
  const drivers: TriageDriver[] = []
  for (let i = 0; i < o.driverCount; i++) {
    const e = i * DRIVER_ENTRY_BYTES
    const nameAt = v.getUint32(e, true) - o.stringPool
    let path = ''
    if (nameAt >= 0 && nameAt + 4 <= pool.length) {
      const chars = poolView.getUint32(nameAt, true)
      const end = Math.min(pool.length, nameAt + 4 + chars * 2)
      path = Buffer.from(pool.subarray(nameAt + 4, end)).toString('utf16le')
    }
    drivers.push({ path, base: v.getBigUint64(e + 0x38, true), sizeBytes: v.getUint32(e + 0x48, true) })
  }
  return drivers
}

export async function triageDumpSegments(source: ImageSource, header: DumpHeader): Promise<{ segments: ImageSegment[]; facts: TriageFacts }> {
  if (header.bits !== 64) throw new MemweaveError('connector', 'unsupported', `${source.name}: 32-bit triage dumps are not supported (only PAGEDU64 triage dumps)`)
  const o = await readOffsets(source, header.headerBytes)
  if (o.blockCount > MAX_IMAGE_RANGES) {
    throw new MemweaveError('connector', 'limit', `${source.name}: ${o.blockCount} triage data blocks; at most ${MAX_IMAGE_RANGES} are supported`)
  }
  const table = await readStruct(source, o.blocks, o.blockCount * BLOCK_BYTES, `triage data block table (${o.blockCount} entries)`)
  const v = new DataView(table.buffer, table.byteOffset, table.byteLength)
  const segments: ImageSegment[] = []
  let blockBytes = 0
  for (let i = 0; i < o.blockCount; i++) {
    const address = v.getBigUint64(i * BLOCK_BYTES, true)
    const offset = v.getUint32(i * BLOCK_BYTES + 8, true)
    const size = v.getUint32(i * BLOCK_BYTES + 12, true)
    if (offset + size > source.sizeBytes) {
      throw malformed(source, `triage data block #${i} (0x${address.toString(16)}, ${size} bytes) runs past the end of the file: offset ${offset} + ${size} > ${source.sizeBytes}`)
    }
    blockBytes += size
    segments.push({ start: address, fileBytes: BigInt(size), memBytes: BigInt(size), fileOffset: offset, label: `triage block #${i}` })
  }
  const debuggerData = await optionalCopy(source, o.debuggerData, o.debuggerDataBytes)
  const kdbg = header.kdDebuggerDataBlock
  const kdbgEnd = kdbg + BigInt(o.debuggerDataBytes)
  const debuggerDataMapped = debuggerData !== undefined && kdbg !== 0n && kdbgEnd <= 1n << 64n
    && !segments.some((s) => s.start < kdbgEnd && kdbg < s.start + s.memBytes)
  if (debuggerDataMapped) segments.push({ start: kdbg, fileBytes: BigInt(o.debuggerDataBytes), memBytes: BigInt(o.debuggerDataBytes), fileOffset: o.debuggerData, label: 'KDBG copy' })
  const copyLength = (from: number, to: number): number => (to > from && to - from <= MAX_COPY_BYTES ? to - from : 0x1000)
  const process = await optionalCopy(source, o.process, Math.min(copyLength(o.process, o.thread), Math.max(0, source.sizeBytes - o.process)))
  const thread = await optionalCopy(source, o.thread, Math.min(copyLength(o.thread, o.callStack), Math.max(0, source.sizeBytes - o.thread)))
  const drivers = await readDrivers(source, o)
  return { segments, facts: { blockCount: o.blockCount, blockBytes, debuggerData, process, thread, drivers, debuggerDataMapped } }
}
