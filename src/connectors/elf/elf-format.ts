/**
 * The ELF64 numbers memweave reads and writes, in one place: identification
 * bytes, header sizes and field offsets, segment and note types. Readers
 * (the file and kcore connectors) and writers (image builders, the process
 * core leaf) take them from here, so a value is spelled once.
 *
 *   Elf64_Ehdr (64 bytes)  e_ident[16] e_type@16 e_machine@18 e_phoff@32 e_shoff@40 e_ehsize@52 e_phentsize@54 e_phnum@56
 *   Elf64_Phdr (56 bytes)  p_type@0 p_flags@4 p_offset@8 p_vaddr@16 p_paddr@24 p_filesz@32 p_memsz@40 p_align@48
 *   Elf64_Shdr (64 bytes)  sh_info@44 (holds the real e_phnum when e_phnum is PN_XNUM)
 */
import { MemweaveError } from '../../errors/index.js'

export const ELF_MAGIC = Uint8Array.of(0x7f, 0x45, 0x4c, 0x46)
export const ELFCLASS32 = 1
export const ELFCLASS64 = 2
export const ELFDATA2LSB = 1
export const ELFDATA2MSB = 2
export const EV_CURRENT = 1

export const ET_CORE = 4
export const EM_X86_64 = 62
export const EM_AARCH64 = 183

export const EHDR_BYTES = 64
export const PHDR_BYTES = 56
export const SHDR_BYTES = 64
/** e_phnum value meaning "the real count is in section header 0's sh_info". */
export const PN_XNUM = 0xffff

export const PT_LOAD = 1
export const PT_NOTE = 4
export const PF_X = 1
export const PF_W = 2
export const PF_R = 4

/** Note types of the "CORE" owner (include/uapi/linux/elf.h). */
export const NT_PRSTATUS = 1
export const NT_PRFPREG = 2
export const NT_PRPSINFO = 3
export const NT_AUXV = 6
export const NT_FILE = 0x46494c45
/** x86-64: the XSAVE area in standard format (AVX and later), after NT_PRFPREG. */
export const NT_X86_XSTATE = 0x202
/** AArch64: the thread pointer tpidr_el0 (the kernel's tls regset). */
export const NT_ARM_TLS = 0x401

/** p_paddr of a kcore segment with no physical address (vmalloc, modules). */
export const NO_PADDR = 0xffffffffffffffffn

export function hasElfMagic(head: Uint8Array): boolean {
  return head.length >= ELF_MAGIC.length && ELF_MAGIC.every((b, i) => head[i] === b)
}

export interface ProgramHeader {
  readonly type: number
  readonly flags: number
  readonly offset: bigint
  readonly vaddr: bigint
  readonly paddr: bigint
  readonly fileBytes: bigint
  readonly memBytes: bigint
  readonly align: bigint
}

/** Decodes `count` little-endian program headers of `entryBytes` each (the caller checked the table's size). */
export function decodeProgramHeaders(view: DataView, count: number, entryBytes: number): ProgramHeader[] {
  const headers: ProgramHeader[] = []
  for (let i = 0; i < count; i++) {
    const at = i * entryBytes
    headers.push({
      type: view.getUint32(at, true),
      flags: view.getUint32(at + 4, true),
      offset: view.getBigUint64(at + 8, true),
      vaddr: view.getBigUint64(at + 16, true),
      paddr: view.getBigUint64(at + 24, true),
      fileBytes: view.getBigUint64(at + 32, true),
      memBytes: view.getBigUint64(at + 40, true),
      align: view.getBigUint64(at + 48, true),
    })
  }
  return headers
}

export interface ElfCoreHeaderFields {
  readonly machine: number
  /** Program headers, placed right after the ELF header; 0xffff or more are counted in section header 0. */
  readonly phnum: number
  /** Where section header 0 goes when phnum needs PN_XNUM (the caller leaves SHDR_BYTES there). */
  readonly shoff?: number
}

/** Writes a little-endian ELF64 ET_CORE header at the start of `out` (and section header 0 when the count needs PN_XNUM). */
export function writeElfCoreHeader(out: Uint8Array, fields: ElfCoreHeaderFields): void {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength)
  out.set(ELF_MAGIC, 0)
  out.set([ELFCLASS64, ELFDATA2LSB, EV_CURRENT, 0 /* SYSV ABI */], ELF_MAGIC.length)
  view.setUint16(16, ET_CORE, true)
  view.setUint16(18, fields.machine, true)
  view.setUint32(20, EV_CURRENT, true) // e_version
  view.setBigUint64(32, BigInt(EHDR_BYTES), true) // e_phoff
  view.setUint16(52, EHDR_BYTES, true) // e_ehsize
  view.setUint16(54, PHDR_BYTES, true) // e_phentsize
  view.setUint16(58, SHDR_BYTES, true) // e_shentsize
  const extended = fields.phnum >= PN_XNUM
  view.setUint16(56, extended ? PN_XNUM : fields.phnum, true)
  if (!extended) return
  if (fields.shoff === undefined) throw new MemweaveError('connector', 'invalid_argument', `${fields.phnum} program headers need section header 0, and no place was given for it`)
  view.setBigUint64(40, BigInt(fields.shoff), true) // e_shoff
  view.setUint16(60, 1, true) // e_shnum: just the null section header
  view.setUint32(fields.shoff + 44, fields.phnum, true) // sh_info
}

/** Writes program header number `index` (after the ELF header). */
export function writeProgramHeader(out: Uint8Array, index: number, header: ProgramHeader): void {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength)
  const at = EHDR_BYTES + index * PHDR_BYTES
  view.setUint32(at, header.type, true)
  view.setUint32(at + 4, header.flags, true)
  view.setBigUint64(at + 8, header.offset, true)
  view.setBigUint64(at + 16, header.vaddr, true)
  view.setBigUint64(at + 24, header.paddr, true)
  view.setBigUint64(at + 32, header.fileBytes, true)
  view.setBigUint64(at + 40, header.memBytes, true)
  view.setBigUint64(at + 48, header.align, true)
}
