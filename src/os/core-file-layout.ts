/**
 * The layout of a process's ELF core file, computed up front so its size is
 * known before any memory is read:
 *
 *   [ELF header][PT_NOTE + one PT_LOAD per mapping][notes][pad to page]
 *   [data of each readable mapping, in map order]
 *
 * A mapping gets file data (p_filesz = size) only when it is readable and a
 * one-byte probe at its first or last byte succeeds; guard regions (---p), [vvar] and
 * the like get p_filesz 0, so gdb knows the range exists but has no bytes.
 */
import { MemweaveError } from '../errors/index.js'
import { virtAddr } from '../mem/index.js'
import type { VirtAddr } from '../mem/index.js'
import { coreNotes, encodeNotes } from './core-file-notes.js'
import type { MapEntry, OsProcess } from './os-model.js'

export const CORE_PAGE_BYTES = 4096n
const ELF_HEADER_BYTES = 64
const PROGRAM_HEADER_BYTES = 56
const PT_LOAD = 1
const PT_NOTE = 4
const PF_X = 1
const PF_W = 2
const PF_R = 4
/** Beyond this the count needs the PN_XNUM escape, which we do not write. */
const MAX_PROGRAM_HEADERS = 0xfffe

export interface CoreSegment {
  readonly vaddr: VirtAddr
  readonly memBytes: bigint
  /** Where the data sits in the file (meaningful when fileBytes > 0). */
  readonly fileOffset: bigint
  /** memBytes, or 0 for mappings without data. */
  readonly fileBytes: bigint
  readonly flags: number
  readonly path: string
}

export interface CoreLayout {
  /** File bytes 0..dataStart: headers, notes, padding. */
  readonly head: Uint8Array
  readonly dataStart: bigint
  readonly totalBytes: bigint
  readonly segments: readonly CoreSegment[]
  /** Segments with file data, in file order (for offset lookups). */
  readonly dataSegments: readonly CoreSegment[]
}

function flagsOf(perms: string): number {
  return (perms[0] === 'r' ? PF_R : 0) | (perms[1] === 'w' ? PF_W : 0) | (perms[2] === 'x' ? PF_X : 0)
}

function alignUp(value: bigint, to: bigint): bigint {
  return ((value + to - 1n) / to) * to
}

/**
 * Which readable mappings answer a one-byte read at their first or last
 * byte; one batch for all. Both ends, because a stack grows down: a main or
 * thread stack has pages only near its top, a heap only near its start.
 */
export async function probeReadable(process: OsProcess, maps: readonly MapEntry[]): Promise<boolean[]> {
  const readable = maps.map((m) => m.perms[0] === 'r' && m.end > m.start)
  const indexes = readable.flatMap((r, i) => (r ? [i] : []))
  const pieces = indexes.flatMap((i) => {
    const m = maps[i]
    return m === undefined ? [] : [{ addr: m.start, length: 1 }, { addr: virtAddr(m.end - 1n), length: 1 }]
  })
  const results = pieces.length === 0 ? [] : await process.mem.read(pieces)
  const ok = maps.map(() => false)
  results.forEach((r, k) => {
    if (!r.ok && r.error.kind === 'stale') throw r.error
    const index = indexes[Math.floor(k / 2)] ?? 0
    ok[index] = ok[index] === true || (r.ok && r.data.length === 1)
  })
  return ok
}

export async function planCoreFile(process: OsProcess): Promise<CoreLayout> {
  const info = await process.info()
  const [maps, auxv, threads] = await Promise.all([process.maps(), process.auxv?.(), process.threads?.()])
  if (maps.length + 1 > MAX_PROGRAM_HEADERS) {
    throw new MemweaveError('os', 'too_large', `process ${info.pid} has ${maps.length} mappings; a core file holds at most ${MAX_PROGRAM_HEADERS - 1}`)
  }
  const probed = await probeReadable(process, maps)
  const notes = encodeNotes(coreNotes(info, maps, auxv, CORE_PAGE_BYTES, threads))
  const phnum = maps.length + 1
  const notesOffset = ELF_HEADER_BYTES + PROGRAM_HEADER_BYTES * phnum
  const dataStart = alignUp(BigInt(notesOffset + notes.length), CORE_PAGE_BYTES)

  let at = dataStart
  const segments = maps.map((m, i): CoreSegment => {
    const memBytes = m.end - m.start
    const fileBytes = probed[i] === true ? memBytes : 0n
    const segment = { vaddr: m.start, memBytes, fileOffset: at, fileBytes, flags: flagsOf(m.perms), path: m.path }
    at += fileBytes
    return segment
  })

  const head = new Uint8Array(Number(dataStart))
  const view = new DataView(head.buffer)
  head.set([0x7f, 0x45, 0x4c, 0x46, 2 /* ELFCLASS64 */, 1 /* little endian */, 1 /* EV_CURRENT */, 0 /* SYSV ABI */])
  view.setUint16(16, 4, true) // e_type ET_CORE
  view.setUint16(18, info.arch === 'aarch64' ? 183 : 62, true) // e_machine EM_AARCH64 / EM_X86_64
  view.setUint32(20, 1, true) // e_version
  view.setBigUint64(32, BigInt(ELF_HEADER_BYTES), true) // e_phoff
  view.setUint16(52, ELF_HEADER_BYTES, true) // e_ehsize
  view.setUint16(54, PROGRAM_HEADER_BYTES, true) // e_phentsize
  view.setUint16(56, phnum, true) // e_phnum
  view.setUint16(58, 64, true) // e_shentsize (no sections)

  const phdr = (index: number, type: number, flags: number, offset: bigint, vaddr: bigint, filesz: bigint, memsz: bigint, align: bigint): void => {
    const p = ELF_HEADER_BYTES + index * PROGRAM_HEADER_BYTES
    view.setUint32(p, type, true)
    view.setUint32(p + 4, flags, true)
    view.setBigUint64(p + 8, offset, true)
    view.setBigUint64(p + 16, vaddr, true)
    view.setBigUint64(p + 24, 0n, true) // p_paddr
    view.setBigUint64(p + 32, filesz, true)
    view.setBigUint64(p + 40, memsz, true)
    view.setBigUint64(p + 48, align, true)
  }
  phdr(0, PT_NOTE, PF_R, BigInt(notesOffset), 0n, BigInt(notes.length), 0n, 4n)
  segments.forEach((s, i) => phdr(i + 1, PT_LOAD, s.flags, s.fileOffset, s.vaddr, s.fileBytes, s.memBytes, CORE_PAGE_BYTES))
  head.set(notes, notesOffset)

  return { head, dataStart, totalBytes: at, segments, dataSegments: segments.filter((s) => s.fileBytes > 0n) }
}
