/**
 * The PT_NOTE contents of an x86-64 or AArch64 Linux core file, in the order
 * the kernel writes them: per thread NT_PRSTATUS (tid and registers) followed
 * by its FP registers when read (x86-64 NT_PRFPREG: the FXSAVE area; AArch64
 * NT_FPREGSET: user_fpsimd_state), then x86-64 NT_X86_XSTATE (the XSAVE area,
 * when the kernel uses XSAVE) or AArch64 NT_ARM_TLS (tpidr_el0),
 * the main thread first; then
 * NT_PRPSINFO (name, arguments, state), NT_AUXV (when the process gives its
 * auxiliary vector) and NT_FILE (which file backs which mapping, so gdb can
 * find shared libraries). Without thread records (an OS that cannot read
 * them) one NT_PRSTATUS with zero registers stands for the process.
 * Struct layouts follow the kernel's include/uapi/linux/elfcore.h for 64-bit
 * x86 and arm64 (the same 112-byte head; only pr_reg differs).
 */
import { NT_ARM_TLS, NT_AUXV, NT_FILE, NT_PRFPREG, NT_PRPSINFO, NT_PRSTATUS, NT_X86_XSTATE } from '../../connectors/index.js'
import type { ElfNote } from '../../connectors/index.js'
import type { MapEntry, ProcessInfo } from '../os-model.js'
import { encodeUserPtRegs, USER_PT_REGS_BYTES } from '../aarch64-registers.js'
import type { ThreadState } from '../thread-state.js'
import { encodeUserRegs, zeroRegs } from '../x86-64-registers.js'

/** sizeof(struct elf_prstatus) on x86-64: 112 bytes of header, 27 general registers, pr_fpvalid, padding. */
export const PRSTATUS_BYTES = 336
/** sizeof(struct elf_prpsinfo) on x86-64. */
export const PRPSINFO_BYTES = 136

const encoder = new TextEncoder()

const PR_REG_OFFSET = 112
const PR_FPVALID_OFFSET = 328

/** aarch64's elf_prstatus: the same 112-byte head, then x0..x30, sp, pc, pstate (34 u64) and pr_fpvalid. */
export const AARCH64_PRSTATUS_BYTES = 392
const AARCH64_PR_FPVALID_OFFSET = PR_REG_OFFSET + USER_PT_REGS_BYTES

/** One thread's NT_PRSTATUS; without a thread record, the process's pid and zero registers. */
export function prstatusDesc(info: ProcessInfo, thread?: ThreadState): Uint8Array {
  const arm64 = info.arch === 'aarch64'
  const desc = new Uint8Array(arm64 ? AARCH64_PRSTATUS_BYTES : PRSTATUS_BYTES)
  const view = new DataView(desc.buffer)
  view.setInt32(32, thread?.tid ?? info.pid, true) // pr_pid
  view.setInt32(36, info.ppid, true) // pr_ppid
  const registers = thread?.registers
  if (arm64) {
    if (registers?.arch === 'aarch64') {
      desc.set(encodeUserPtRegs(registers.regs), PR_REG_OFFSET)
      view.setInt32(AARCH64_PR_FPVALID_OFFSET, registers.fpsimd === undefined ? 0 : 1, true)
    }
    return desc
  }
  desc.set(encodeUserRegs(registers?.arch === 'x86_64' ? registers.regs : zeroRegs()), PR_REG_OFFSET)
  view.setInt32(PR_FPVALID_OFFSET, registers?.arch === 'x86_64' && registers.fxsave !== undefined ? 1 : 0, true)
  return desc
}

/** The notes after a thread's NT_PRSTATUS: its FP registers, and on AArch64 its thread pointer. */
function threadRegsetNotes(thread: ThreadState): ElfNote[] {
  const registers = thread.registers
  if (registers.arch === 'x86_64') {
    return [
      ...(registers.fxsave === undefined ? [] : [{ name: 'CORE', type: NT_PRFPREG, desc: registers.fxsave }]),
      ...(registers.xsave === undefined ? [] : [{ name: 'LINUX', type: NT_X86_XSTATE, desc: registers.xsave }]),
    ]
  }
  const tls = new Uint8Array(8)
  new DataView(tls.buffer).setBigUint64(0, BigInt.asUintN(64, registers.regs.tpidr_el0), true)
  return [
    ...(registers.fpsimd === undefined ? [] : [{ name: 'CORE', type: NT_PRFPREG, desc: registers.fpsimd }]),
    { name: 'LINUX', type: NT_ARM_TLS, desc: tls },
  ]
}

/** Copies a string's UTF-8 bytes into dst at offset, truncated to leave room for a NUL. */
function putCString(dst: Uint8Array, offset: number, capacity: number, text: string): void {
  dst.set(encoder.encode(text).subarray(0, capacity - 1), offset)
}

export function prpsinfoDesc(info: ProcessInfo): Uint8Array {
  const desc = new Uint8Array(PRPSINFO_BYTES)
  const view = new DataView(desc.buffer)
  const stateIndex = 'RSDTZW'.indexOf(info.state)
  desc[0] = stateIndex < 0 ? 0 : stateIndex // pr_state
  desc[1] = info.state.charCodeAt(0) & 0x7f // pr_sname
  desc[2] = info.state === 'Z' ? 1 : 0 // pr_zomb
  view.setUint32(16, info.uid >>> 0, true) // pr_uid
  view.setInt32(24, info.pid, true) // pr_pid
  view.setInt32(28, info.ppid, true) // pr_ppid
  putCString(desc, 40, 16, info.name) // pr_fname
  putCString(desc, 56, 80, info.cmdline.join(' ')) // pr_psargs
  return desc
}

/** NT_FILE: count, page size, (start, end, offset in pages) per file-backed mapping, then the NUL-terminated names. */
export function fileNoteDesc(maps: readonly MapEntry[], pageSize: bigint): Uint8Array {
  const files = maps.filter((m) => m.path.startsWith('/'))
  const names = files.map((m) => encoder.encode(`${m.path}\0`))
  const desc = new Uint8Array(16 + files.length * 24 + names.reduce((a, n) => a + n.length, 0))
  const view = new DataView(desc.buffer)
  view.setBigUint64(0, BigInt(files.length), true)
  view.setBigUint64(8, pageSize, true)
  files.forEach((m, i) => {
    view.setBigUint64(16 + i * 24, m.start, true)
    view.setBigUint64(24 + i * 24, m.end, true)
    view.setBigUint64(32 + i * 24, m.offset / pageSize, true)
  })
  let at = 16 + files.length * 24
  for (const name of names) { desc.set(name, at); at += name.length }
  return desc
}

function threadNotes(info: ProcessInfo, threads: readonly ThreadState[] | undefined): ElfNote[] {
  if (threads === undefined || threads.length === 0) return [{ name: 'CORE', type: NT_PRSTATUS, desc: prstatusDesc(info) }]
  // gdb takes the first NT_PRSTATUS as the thread that was current: the main thread, as the kernel orders them.
  const ordered = [...threads.filter((t) => t.tid === info.pid), ...threads.filter((t) => t.tid !== info.pid)]
  return ordered.flatMap((thread): ElfNote[] => [
    { name: 'CORE', type: NT_PRSTATUS, desc: prstatusDesc(info, thread) },
    ...threadRegsetNotes(thread),
  ])
}

export function coreNotes(info: ProcessInfo, maps: readonly MapEntry[], auxv: Uint8Array | undefined, pageSize: bigint, threads?: readonly ThreadState[]): ElfNote[] {
  return [
    ...threadNotes(info, threads),
    { name: 'CORE', type: NT_PRPSINFO, desc: prpsinfoDesc(info) },
    ...(auxv === undefined || auxv.length === 0 ? [] : [{ name: 'CORE', type: NT_AUXV, desc: auxv }]),
    { name: 'CORE', type: NT_FILE, desc: fileNoteDesc(maps, pageSize) },
  ]
}
