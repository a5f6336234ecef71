/**
 * Builders for small but complete images, used by tests and fixtures: an
 * ELF64 x86-64 core (PT_NOTE + PT_LOADs, like QEMU's dump-guest-memory, or
 * like gcore with addresses in p_vaddr) and a LiME file.
 */
import { MemweaveError } from '../../errors/index.js'
import type { ElfNote } from '../connector.js'
import { EHDR_BYTES, EM_X86_64, PF_R, PF_W, PF_X, PHDR_BYTES, PN_XNUM, PT_LOAD, PT_NOTE, SHDR_BYTES, encodeElfNotes, writeElfCoreHeader, writeProgramHeader } from '../elf/index.js'
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

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0))
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.length }
  return out
}

export function writeElfCore(ranges: readonly ImageRange[], notes: readonly ElfNote[] = [], options: ElfCoreOptions = {}): Uint8Array {
  const field = options.addressField ?? 'paddr'
  const noteData = encodeElfNotes(notes)
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
  const out = new Uint8Array(dataOffset + (extended ? SHDR_BYTES : 0))
  writeElfCoreHeader(out, { machine: EM_X86_64, phnum, shoff: dataOffset })
  let index = 0
  if (notes.length > 0) {
    writeProgramHeader(out, index++, { type: PT_NOTE, flags: PF_R, offset: BigInt(noteOffset), vaddr: 0n, paddr: 0n, fileBytes: BigInt(noteData.length), memBytes: 0n, align: 4n })
  }
  for (const { range, offset } of loads) {
    const addr = { vaddr: field === 'vaddr' ? range.addr : 0n, paddr: field === 'paddr' ? range.addr : 0n }
    const fileBytes = BigInt(range.data.length)
    writeProgramHeader(out, index++, { type: PT_LOAD, flags: PF_R | PF_W | PF_X, offset: BigInt(offset), ...addr, fileBytes, memBytes: range.memSizeBytes ?? fileBytes, align: 1n })
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
