/**
 * @module connectors/elf
 * ELF64 as memweave reads and writes it: the format's numbers
 * (elf-format.ts) and the one bounded note parser, VMCOREINFO extractor and
 * note encoder (elf-notes.ts), shared by the file and kcore connectors and
 * the process core writer.
 */
export {
  EHDR_BYTES, ELFCLASS32, ELFCLASS64, ELFDATA2LSB, ELFDATA2MSB, ELF_MAGIC, EM_AARCH64, EM_X86_64, ET_CORE, EV_CURRENT,
  NO_PADDR, NT_ARM_TLS, NT_AUXV, NT_FILE, NT_PRFPREG, NT_PRPSINFO, NT_PRSTATUS, NT_X86_XSTATE, PF_R, PF_W, PF_X, PHDR_BYTES, PN_XNUM, PT_LOAD, PT_NOTE, SHDR_BYTES,
  decodeProgramHeaders, hasElfMagic, writeElfCoreHeader, writeProgramHeader,
} from './elf-format.js'
export type { ElfCoreHeaderFields, ProgramHeader } from './elf-format.js'
export { MAX_NOTES, MAX_NOTE_BYTES, checkNoteBytes, encodeElfNotes, parseElfNotes, vmcoreinfoText } from './elf-notes.js'
export type { NoteSegment } from './elf-notes.js'
