/**
 * Builders for small but complete images, used by tests and fixtures: an
 * ELF64 x86-64 core (PT_NOTE + PT_LOADs, like QEMU's dump-guest-memory, or
 * like gcore with addresses in p_vaddr) and a LiME file.
 */
import { MemweaveError } from '../../errors/index.js'
import type { ElfNote } from '../connector.js'
import { LIME_HEADER_BYTES, LIME_MAGIC, LIME_VERSION } from './lime.js'

export interface ImageRange {
  readonly addr: bigint
  readonly data: Uint8Array
  /** Memory size when larger than data (ELF p_memsz; the rest reads as zeros). */
  readonly memSizeBytes?: bigint
}

export interface ElfCoreOptions {
  /** Which header field carries the address: 'paddr' (QEMU, kdump) or 'vaddr' (process cores). */
  readonly addressField?: 'paddr' | 'vaddr'
}

const EHDR_BYTES = 64
const PHDR_BYTES = 56
const SHDR_BYTES = 64
const PN_XNUM = 0xffff
const encoder = new TextEncoder()

function align4(n: number): number {
  return (n + 3) & ~3
}

function noteBytes(notes: readonly ElfNote[]): Uint8Array {
  const parts = notes.map((note) => {
    const name = encoder.encode(note.name)
    const nameSize = note.name.length === 0 ? 0 : name.length + 1
    const out = new Uint8Array(12 + align4(nameSize) + align4(note.desc.length))
    const view = new DataView(out.buffer)
    view.setUint32(0, nameSize, true)
    view.setUint32(4, note.desc.length, true)
    view.setUint32(8, note.type, true)
    out.set(name, 12)
    out.set(note.desc, 12 + align4(nameSize))
    return out
  })
  return concat(parts)
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0))
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.length }
  return out
}

export function writeElfCore(ranges: readonly ImageRange[], notes: readonly ElfNote[] = [], options: ElfCoreOptions = {}): Uint8Array {
  const field = options.addressField ?? 'paddr'
  const noteData = noteBytes(notes)
  const phnum = ranges.length + (notes.length > 0 ? 1 : 0)
  const noteOffset = EHDR_BYTES + phnum * PHDR_BYTES
  let dataOffset = noteOffset + noteData.length
  const loads = ranges.map((r) => {
    const offset = dataOffset
    dataOffset += r.data.length
    return { range: r, offset }
  })
  // 0xffff or more segments: e_phnum says PN_XNUM and section header 0's sh_info holds the count.
  const extended = phnum >= PN_XNUM
  const shoff = dataOffset
  const out = new Uint8Array(dataOffset + (extended ? SHDR_BYTES : 0))
  const view = new DataView(out.buffer)
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0) // magic, ELFCLASS64, little-endian, EV_CURRENT
  view.setUint16(16, 4, true) // ET_CORE
  view.setUint16(18, 62, true) // EM_X86_64
  view.setUint32(20, 1, true) // e_version
  view.setBigUint64(32, BigInt(EHDR_BYTES), true) // e_phoff
  view.setUint16(52, EHDR_BYTES, true)
  view.setUint16(54, PHDR_BYTES, true)
  view.setUint16(56, extended ? PN_XNUM : phnum, true)
  if (extended) {
    view.setBigUint64(40, BigInt(shoff), true) // e_shoff
    view.setUint16(58, SHDR_BYTES, true) // e_shentsize
    view.setUint16(60, 1, true) // e_shnum: just the null section header
    view.setUint32(shoff + 44, phnum, true) // sh_info
  }
  let ph = EHDR_BYTES
  const header = (type: number, flags: number, offset: number, vaddr: bigint, paddr: bigint, fileBytes: number, memBytes: bigint, alignment: bigint): void => {
    view.setUint32(ph, type, true)
    view.setUint32(ph + 4, flags, true)
    view.setBigUint64(ph + 8, BigInt(offset), true)
    view.setBigUint64(ph + 16, vaddr, true)
    view.setBigUint64(ph + 24, paddr, true)
    view.setBigUint64(ph + 32, BigInt(fileBytes), true)
    view.setBigUint64(ph + 40, memBytes, true)
    view.setBigUint64(ph + 48, alignment, true)
    ph += PHDR_BYTES
  }
  if (notes.length > 0) header(4, 4, noteOffset, 0n, 0n, noteData.length, 0n, 4n)
  for (const { range, offset } of loads) {
    header(1, 7, offset, field === 'vaddr' ? range.addr : 0n, field === 'paddr' ? range.addr : 0n, range.data.length, range.memSizeBytes ?? BigInt(range.data.length), 1n)
    out.set(range.data, offset)
  }
  out.set(noteData, noteOffset)
  return out
}

export function writeLime(ranges: readonly ImageRange[]): Uint8Array {
  const parts = ranges.flatMap((r) => {
    if (r.data.length === 0) throw new MemweaveError('connector', 'invalid_argument', `LiME range at 0x${r.addr.toString(16)} is empty; LiME cannot express that`)
    const header = new Uint8Array(LIME_HEADER_BYTES)
    const view = new DataView(header.buffer)
    view.setUint32(0, LIME_MAGIC, true)
    view.setUint32(4, LIME_VERSION, true)
    view.setBigUint64(8, r.addr, true)
    view.setBigUint64(16, r.addr + BigInt(r.data.length) - 1n, true) // inclusive end
    return [header, r.data]
  })
  return concat(parts)
}
