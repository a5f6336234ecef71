/**
 * The layout of a Windows user-mode minidump (MINIDUMP, as WinDbg and
 * Visual Studio open) of a process, computed up front so its size is known:
 *
 *   [MINIDUMP_HEADER 'MDMP'][directory: 3 x (type, size, rva)]
 *   [SystemInfoStream (7): MINIDUMP_SYSTEM_INFO + empty CSD string]
 *   [ModuleListStream (4): count, MINIDUMP_MODULE x n (108 bytes), names]
 *   [Memory64ListStream (9): count, BaseRva, (start, size) x m]
 *   [pad to a page][the bytes of every range, in order, from BaseRva]
 *
 * Ranges are the process's readable maps (VADs) that answer a probe at
 * either end, as for the ELF core; pages inside that do not read (paged
 * out, missing from the dump) are written as zeros by the shared core
 * reader. There is no thread list: thread contexts need offsets that are
 * not found without symbols.
 */
import { MemweaveError } from '../../errors/index.js'
import { probeReadable } from '../core-file/core-file-layout.js'
import type { CoreLayout, CoreSegment } from '../core-file/core-file-layout.js'
import type { OsProcess } from '../os-model.js'

const HEADER_BYTES = 32
const DIRECTORY_ENTRY_BYTES = 12
const SYSTEM_INFO_BYTES = 56
const MODULE_BYTES = 108
const MEMORY64_HEAD_BYTES = 16
const MEMORY64_DESCRIPTOR_BYTES = 16
export const STREAM = { moduleList: 4, systemInfo: 7, memory64List: 9 } as const
const PROCESSOR_ARCHITECTURE: Readonly<Record<string, number>> = { x86_64: 9, aarch64: 12, x86: 0 }
const MINIDUMP_SIGNATURE = 0x504d444d
const MINIDUMP_VERSION = 0xa793
const PAGE = 4096n
/** A minidump's RVAs are 32-bit: headers, streams and names must fit below 4 GiB (memory may lie beyond, via Memory64). */
const MAX_HEAD_BYTES = 0xffffffff

export interface MinidumpSystem {
  readonly arch: string
  readonly build: number
  readonly majorVersion: number
  readonly minorVersion: number
}

function align(value: number, to: number): number {
  return Math.ceil(value / to) * to
}

export async function planMinidump(process: OsProcess, system: MinidumpSystem): Promise<CoreLayout> {
  const [maps, modules] = await Promise.all([process.maps(), process.modules()])
  const probed = await probeReadable(process, maps)
  const ranges = maps.filter((_, i) => probed[i] === true)
  const names = modules.map((m) => Buffer.from(`${m.path ?? m.name}\0`, 'utf16le'))
  const sysInfoAt = HEADER_BYTES + 3 * DIRECTORY_ENTRY_BYTES
  const csdAt = sysInfoAt + SYSTEM_INFO_BYTES
  const moduleListAt = align(csdAt + 6, 8)
  const namesAt = moduleListAt + 4 + modules.length * MODULE_BYTES
  const nameOffsets: number[] = []
  let at = namesAt
  for (const name of names) { at = align(at, 4); nameOffsets.push(at); at += 4 + name.length }
  const memoryAt = align(at, 8)
  const memoryBytes = MEMORY64_HEAD_BYTES + ranges.length * MEMORY64_DESCRIPTOR_BYTES
  const dataStart = BigInt(align(memoryAt + memoryBytes, Number(PAGE)))
  if (dataStart > BigInt(MAX_HEAD_BYTES)) throw new MemweaveError('os', 'too_large', `process ${process.ref.pid}: minidump headers would pass 4 GiB`)
  const head = new Uint8Array(Number(dataStart))
  const v = new DataView(head.buffer)
  // Header and directory.
  v.setUint32(0, MINIDUMP_SIGNATURE, true)
  v.setUint32(4, MINIDUMP_VERSION, true)
  v.setUint32(8, 3, true)
  v.setUint32(12, HEADER_BYTES, true)
  v.setUint32(20, Math.floor(Date.now() / 1000), true)
  v.setBigUint64(24, 0x2n, true) // MiniDumpWithFullMemory
  const directory: [number, number, number][] = [
    [STREAM.systemInfo, SYSTEM_INFO_BYTES, sysInfoAt],
    [STREAM.moduleList, namesAt - moduleListAt, moduleListAt],
    [STREAM.memory64List, memoryBytes, memoryAt],
  ]
  directory.forEach(([type, size, rva], i) => {
    v.setUint32(HEADER_BYTES + i * 12, type, true)
    v.setUint32(HEADER_BYTES + i * 12 + 4, size, true)
    v.setUint32(HEADER_BYTES + i * 12 + 8, rva, true)
  })
  // MINIDUMP_SYSTEM_INFO: architecture, version, build, VER_PLATFORM_WIN32_NT, CSD string.
  v.setUint16(sysInfoAt, PROCESSOR_ARCHITECTURE[system.arch] ?? 0xffff, true)
  v.setUint8(sysInfoAt + 6, 1)
  v.setUint8(sysInfoAt + 7, 1) // VER_NT_WORKSTATION
  v.setUint32(sysInfoAt + 8, system.majorVersion, true)
  v.setUint32(sysInfoAt + 12, system.minorVersion, true)
  v.setUint32(sysInfoAt + 16, system.build, true)
  v.setUint32(sysInfoAt + 20, 2, true)
  v.setUint32(sysInfoAt + 24, csdAt, true)
  // Modules.
  v.setUint32(moduleListAt, modules.length, true)
  modules.forEach((m, i) => {
    const e = moduleListAt + 4 + i * MODULE_BYTES
    v.setBigUint64(e, m.base, true)
    v.setUint32(e + 8, Number(m.sizeBytes & 0xffffffffn), true)
    v.setUint32(e + 20, nameOffsets[i]!, true)
  })
  names.forEach((name, i) => {
    v.setUint32(nameOffsets[i]!, name.length - 2, true)
    head.set(name, nameOffsets[i]! + 4)
  })
  // Memory64 list: the data of all ranges follows BaseRva, in descriptor order.
  v.setBigUint64(memoryAt, BigInt(ranges.length), true)
  v.setBigUint64(memoryAt + 8, dataStart, true)
  let fileOffset = dataStart
  const segments = ranges.map((m, i): CoreSegment => {
    const size = m.end - m.start
    v.setBigUint64(memoryAt + MEMORY64_HEAD_BYTES + i * 16, m.start, true)
    v.setBigUint64(memoryAt + MEMORY64_HEAD_BYTES + i * 16 + 8, size, true)
    const segment: CoreSegment = { vaddr: m.start, memBytes: size, fileOffset, fileBytes: size, flags: 0, path: m.path }
    fileOffset += size
    return segment
  })
  return { head, dataStart, totalBytes: fileOffset, segments, dataSegments: segments }
}
