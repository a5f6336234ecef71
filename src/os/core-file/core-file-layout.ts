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
import { EHDR_BYTES, EM_AARCH64, EM_X86_64, PF_R, PF_W, PF_X, PHDR_BYTES, PT_LOAD, PT_NOTE, encodeElfNotes, writeElfCoreHeader, writeProgramHeader } from '../../connectors/index.js'
import { MemweaveError } from '../../errors/index.js'
import { virtAddr } from '../../mem/index.js'
import type { VirtAddr } from '../../mem/index.js'
import { coreNotes } from './core-file-notes.js'
import type { MapEntry, OsProcess } from '../os-model.js'

export const CORE_PAGE_BYTES = 4096n
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
  if (results.length !== pieces.length) throw new MemweaveError('os', 'internal', `probe of ${pieces.length} pieces got ${results.length} results`)
  const ok = maps.map(() => false)
  results.forEach((r, k) => {
    if (!r.ok && r.error.kind === 'stale') throw r.error
    const index = indexes[Math.floor(k / 2)]
    if (index === undefined) throw new MemweaveError('os', 'internal', `probe result ${k} has no mapping`)
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
  const notes = encodeElfNotes(coreNotes(info, maps, auxv, CORE_PAGE_BYTES, threads))
  const phnum = maps.length + 1
  const notesOffset = EHDR_BYTES + PHDR_BYTES * phnum
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
  writeElfCoreHeader(head, { machine: info.arch === 'aarch64' ? EM_AARCH64 : EM_X86_64, phnum })
  writeProgramHeader(head, 0, { type: PT_NOTE, flags: PF_R, offset: BigInt(notesOffset), vaddr: 0n, paddr: 0n, fileBytes: BigInt(notes.length), memBytes: 0n, align: 4n })
  segments.forEach((s, i) => writeProgramHeader(head, i + 1, { type: PT_LOAD, flags: s.flags, offset: s.fileOffset, vaddr: s.vaddr, paddr: 0n, fileBytes: s.fileBytes, memBytes: s.memBytes, align: CORE_PAGE_BYTES }))
  head.set(notes, notesOffset)

  return { head, dataStart, totalBytes: at, segments, dataSegments: segments.filter((s) => s.fileBytes > 0n) }
}
