/**
 * ELF64 core files (little-endian x86-64, ET_CORE): QEMU dump-guest-memory,
 * kdump's /proc/vmcore and process cores (gcore). PT_LOAD segments give the
 * memory ranges, PT_NOTE segments the notes.
 *
 * Addresses are p_paddr. A process core has every p_paddr = 0 and its layout
 * in p_vaddr; then the connector exposes that virtual layout as its address
 * space (layout.addressing = 'virtual').
 */
import { MemweaveError } from '../../errors/index.js'
import type { ElfNote } from '../connector.js'
import {
  EHDR_BYTES, ELFCLASS32, ELFCLASS64, ELFDATA2LSB, ELFDATA2MSB, EM_AARCH64, EM_X86_64, ET_CORE, PHDR_BYTES, PN_XNUM, PT_LOAD, PT_NOTE, SHDR_BYTES,
  checkNoteBytes, decodeProgramHeaders, hasElfMagic, parseElfNotes,
} from '../elf/index.js'
import type { ProgramHeader } from '../elf/index.js'
import { MAX_IMAGE_RANGES, layoutRanges } from './image-layout.js'
import type { ImageLayout, ImageSegment } from './image-layout.js'
import { malformed, readStruct } from './image-source.js'
import type { ImageSource } from './image-source.js'

const MAX_PHENT_BYTES = 4096

export async function parseElfCore(source: ImageSource): Promise<ImageLayout> {
  if (source.sizeBytes === 0) throw malformed(source, 'the file is empty')
  const ehdr = await readStruct(source, 0, Math.min(EHDR_BYTES, source.sizeBytes), 'ELF header')
  if (!hasElfMagic(ehdr)) throw malformed(source, 'not an ELF file (no \\x7fELF magic)')
  if (ehdr.length < 6) throw malformed(source, `truncated ELF header: ${ehdr.length} of ${EHDR_BYTES} bytes`)
  checkIdent(source, ehdr)
  if (ehdr.length < EHDR_BYTES) throw malformed(source, `truncated ELF header: ${ehdr.length} of ${EHDR_BYTES} bytes`)
  const view = new DataView(ehdr.buffer, ehdr.byteOffset, EHDR_BYTES)
  const type = view.getUint16(16, true)
  const machine = view.getUint16(18, true)
  if (type !== ET_CORE) throw unsupported(source, `not a core file (e_type ${type}; only ET_CORE images hold memory)`)
  if (machine !== EM_X86_64 && machine !== EM_AARCH64) throw unsupported(source, `ELF core for machine ${machine}; only x86-64 (62) and AArch64 (183) are supported`)
  const headers = await readProgramHeaders(source, view)
  return layoutFromHeaders(source, headers)
}

function checkIdent(source: ImageSource, ehdr: Uint8Array): void {
  const elfClass = ehdr[4]
  const data = ehdr[5]
  if (elfClass === ELFCLASS32) throw unsupported(source, '32-bit ELF (ELFCLASS32) is not supported; only 64-bit x86-64 and AArch64 ELF cores are')
  if (elfClass !== ELFCLASS64) throw malformed(source, `bad ELF class ${String(elfClass)} (expected 2, ELFCLASS64)`)
  if (data === ELFDATA2MSB) throw unsupported(source, 'big-endian ELF is not supported; only little-endian x86-64 and AArch64 ELF cores are')
  if (data !== ELFDATA2LSB) throw malformed(source, `bad ELF data encoding ${String(data)} (expected 1, little-endian)`)
}

function unsupported(source: ImageSource, problem: string): MemweaveError {
  return new MemweaveError('connector', 'unsupported', `${source.name}: ${problem}`)
}

async function readProgramHeaders(source: ImageSource, ehdr: DataView): Promise<ProgramHeader[]> {
  const phoff = ehdr.getBigUint64(32, true)
  const entryBytes = ehdr.getUint16(54, true)
  let count = ehdr.getUint16(56, true)
  if (count === PN_XNUM) count = await extendedCount(source, ehdr)
  if (count === 0) throw malformed(source, 'the ELF core has no program headers')
  if (entryBytes < PHDR_BYTES || entryBytes > MAX_PHENT_BYTES) {
    throw malformed(source, `bad program header size e_phentsize=${entryBytes} (expected ${PHDR_BYTES})`)
  }
  const tableBytes = BigInt(count) * BigInt(entryBytes)
  if (phoff + tableBytes > BigInt(source.sizeBytes)) {
    throw malformed(source, `program header table (${count} x ${entryBytes} bytes at offset 0x${phoff.toString(16)}) runs past the end of the file (${source.sizeBytes} bytes)`)
  }
  if (count > MAX_IMAGE_RANGES) {
    throw new MemweaveError('connector', 'limit', `${source.name}: ${count} program headers; at most ${MAX_IMAGE_RANGES} are supported`)
  }
  const table = await readStruct(source, Number(phoff), Number(tableBytes), 'program header table')
  return decodeProgramHeaders(new DataView(table.buffer, table.byteOffset, table.byteLength), count, entryBytes)
}

/** With more than 65534 segments, the count lives in section header 0 (sh_info). */
async function extendedCount(source: ImageSource, ehdr: DataView): Promise<number> {
  const shoff = ehdr.getBigUint64(40, true)
  if (shoff === 0n || shoff + BigInt(SHDR_BYTES) > BigInt(source.sizeBytes)) {
    throw malformed(source, `e_phnum is PN_XNUM but section header 0 at offset 0x${shoff.toString(16)} is missing or past the end of the file`)
  }
  const shdr = await readStruct(source, Number(shoff), SHDR_BYTES, 'section header 0')
  return new DataView(shdr.buffer, shdr.byteOffset, SHDR_BYTES).getUint32(44, true)
}

async function layoutFromHeaders(source: ImageSource, headers: readonly ProgramHeader[]): Promise<ImageLayout> {
  const fileSize = BigInt(source.sizeBytes)
  const loads: { header: ProgramHeader; index: number }[] = []
  const notes: ElfNote[] = []
  let noteBytes = 0n
  for (const [index, header] of headers.entries()) {
    if (header.type !== PT_LOAD && header.type !== PT_NOTE) continue
    const label = `${header.type === PT_LOAD ? 'PT_LOAD' : 'PT_NOTE'} #${index}`
    if (header.offset + header.fileBytes > fileSize) {
      throw malformed(source, `${label}: file range 0x${header.offset.toString(16)}+0x${header.fileBytes.toString(16)} runs past the end of the file (${source.sizeBytes} bytes)`)
    }
    if (header.type === PT_LOAD) {
      if (header.fileBytes > header.memBytes) {
        throw malformed(source, `${label}: p_filesz 0x${header.fileBytes.toString(16)} exceeds p_memsz 0x${header.memBytes.toString(16)}`)
      }
      loads.push({ header, index })
      continue
    }
    noteBytes += header.fileBytes
    checkNoteBytes(source.name, noteBytes)
    const bytes = await readStruct(source, Number(header.offset), Number(header.fileBytes), `${label} contents`)
    parseElfNotes(source.name, { bytes, align: header.align, fileOffset: Number(header.offset), label }, notes)
  }
  if (loads.length === 0) throw malformed(source, 'the ELF core has no PT_LOAD segments, so it holds no memory')
  const virtual = loads.every((l) => l.header.paddr === 0n) && loads.some((l) => l.header.vaddr !== 0n)
  const segments: ImageSegment[] = loads.map(({ header, index }) => ({
    start: virtual ? header.vaddr : header.paddr,
    fileBytes: header.fileBytes,
    memBytes: header.memBytes,
    fileOffset: Number(header.offset),
    label: `PT_LOAD #${index}`,
  }))
  const { ranges, duplicates } = layoutRanges(source, segments, true)
  return { format: 'elf', ranges, notes, addressing: virtual ? 'virtual' : 'physical', duplicateSegments: duplicates }
}
