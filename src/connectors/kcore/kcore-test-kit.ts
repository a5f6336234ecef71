/**
 * Test kit: writes small files in /proc/kcore's format (ELF64 core,
 * PT_LOADs with kernel virtual and physical addresses, PT_NOTEs), so the
 * kcore connector can be tested on any host. Direct-map pages hold their
 * own physical address as u32 words; other segments hold a fill byte.
 */
import type { ElfNote } from '../connector.js'
import { NO_PADDR, PHDR_BYTES, encodeElfNotes } from '../elf/index.js'

export { NO_PADDR }
export const PAGE_OFFSET = 0xffff888000000000n

export interface KcoreSegment {
  readonly vaddr: bigint
  readonly paddr: bigint
  readonly offset: number
  readonly size: number
  /** Byte to fill with; undefined: u32 words of the physical address. */
  readonly fill?: number
}

export type KcoreNote = ElfNote

const PHDR = PHDR_BYTES

function noteBytes(notes: readonly KcoreNote[]): Buffer {
  const bytes = encodeElfNotes(notes)
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/** The expected bytes of physical address `paddr` in a direct-map segment. */
export function physWord(paddr: bigint): number {
  return Number(paddr & 0xffffffffn)
}

export function buildKcore(segments: readonly KcoreSegment[], notes: readonly KcoreNote[], options: { extendedCount?: boolean } = {}): Buffer {
  const notesData = noteBytes(notes)
  const count = segments.length + (notes.length > 0 ? 1 : 0)
  const phoff = 64
  const notesAt = phoff + PHDR * count
  const shoff = notesAt + notesData.length
  const end = Math.max(shoff + 64, ...segments.map((s) => s.offset + s.size))
  const file = Buffer.alloc(end)
  file.writeUInt32BE(0x7f454c46, 0)
  file[4] = 2
  file[5] = 1
  file[6] = 1
  file.writeUInt16LE(4, 16) // ET_CORE
  file.writeUInt16LE(62, 18) // x86-64
  file.writeUInt32LE(1, 20)
  file.writeBigUInt64LE(BigInt(phoff), 32)
  file.writeUInt16LE(64, 52)
  file.writeUInt16LE(PHDR, 54)
  if (options.extendedCount === true) {
    // e_phnum = PN_XNUM; the count goes into section header 0's sh_info.
    file.writeUInt16LE(0xffff, 56)
    file.writeBigUInt64LE(BigInt(shoff), 40)
    file.writeUInt16LE(64, 58)
    file.writeUInt16LE(1, 60)
    file.writeUInt32LE(count, shoff + 44)
  } else {
    file.writeUInt16LE(count, 56)
  }
  let at = phoff
  if (notes.length > 0) {
    file.writeUInt32LE(4, at)
    file.writeBigUInt64LE(BigInt(notesAt), at + 8)
    file.writeBigUInt64LE(BigInt(notesData.length), at + 32)
    file.writeBigUInt64LE(BigInt(notesData.length), at + 40)
    notesData.copy(file, notesAt)
    at += PHDR
  }
  for (const s of segments) {
    file.writeUInt32LE(1, at)
    file.writeUInt32LE(7, at + 4)
    file.writeBigUInt64LE(BigInt(s.offset), at + 8)
    file.writeBigUInt64LE(s.vaddr, at + 16)
    file.writeBigUInt64LE(s.paddr, at + 24)
    file.writeBigUInt64LE(BigInt(s.size), at + 32)
    file.writeBigUInt64LE(BigInt(s.size), at + 40)
    file.writeBigUInt64LE(4096n, at + 48)
    at += PHDR
    if (s.fill !== undefined) file.fill(s.fill, s.offset, s.offset + s.size)
    else for (let i = 0; i < s.size; i += 4) file.writeUInt32LE(physWord(s.paddr + BigInt(i)), s.offset + i)
  }
  return file
}

/** A layout like a small x86-64 machine's: two direct-map ranges, the kernel text aliasing one, vmalloc and vmemmap. */
export function typicalKcore(options: { extendedCount?: boolean } = {}): Buffer {
  return buildKcore([
    { vaddr: 0xffffffff81000000n, paddr: 0x140000n, offset: 0x40000, size: 0x10000, fill: 0xee },
    { vaddr: PAGE_OFFSET + 0x1000n, paddr: 0x1000n, offset: 0x2000, size: 0x9f000 },
    { vaddr: 0xffffc90000000000n, paddr: NO_PADDR, offset: 0xb0000, size: 0x8000, fill: 0x55 },
    { vaddr: PAGE_OFFSET + 0x100000n, paddr: 0x100000n, offset: 0x100000, size: 0x100000 },
    { vaddr: 0xffffea0000000000n, paddr: NO_PADDR, offset: 0xc0000, size: 0x1000, fill: 0x66 },
  ], [
    { name: 'CORE', type: 1, desc: new Uint8Array(336) },
    { name: 'VMCOREINFO', type: 0, desc: new Uint8Array(Buffer.from('OSRELEASE=6.1.0-test\nPAGESIZE=4096\n')) },
  ], options)
}
