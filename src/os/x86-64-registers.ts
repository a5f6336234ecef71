/**
 * The x86-64 user register set of one thread, as every consumer needs it:
 *
 *   USER_REGS      the 27 registers in user_regs_struct order (NT_PRSTATUS pr_reg)
 *   GDB_REGS       the order of gdb's amd64 'g' packet (rax..r15, rip, eflags, 6 selectors, fs_base, gs_base)
 *   formatX86Registers  text like gdb's `info registers` (register-text.ts)
 *
 * Values are unsigned 64-bit bigints; unknown registers are zero.
 */
import { hex64, registerText } from './register-text.js'

export const USER_REGS = [
  'r15', 'r14', 'r13', 'r12', 'rbp', 'rbx', 'r11', 'r10', 'r9', 'r8', 'rax', 'rcx', 'rdx', 'rsi', 'rdi',
  'orig_rax', 'rip', 'cs', 'eflags', 'rsp', 'ss', 'fs_base', 'gs_base', 'ds', 'es', 'fs', 'gs',
] as const

export type UserRegName = typeof USER_REGS[number]
export type UserRegs = Readonly<Record<UserRegName, bigint>>

/** sizeof(user_regs_struct) on x86-64. */
export const USER_REGS_BYTES = USER_REGS.length * 8
/** sizeof(struct user_fxsr_struct): the legacy FXSAVE area (x87, MXCSR, XMM0..15). */
export const FXSAVE_BYTES = 512

/** gdb's amd64 register numbering as it reads a 'g' packet: 8-byte GPRs, rip, then 4-byte eflags and selectors. */
export const GDB_REGS: readonly { readonly name: UserRegName; readonly bytes: 4 | 8 }[] = [
  ...(['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'rsp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'rip'] as const)
    .map((name) => ({ name, bytes: 8 as const })),
  ...(['eflags', 'cs', 'ss', 'ds', 'es', 'fs', 'gs'] as const).map((name) => ({ name, bytes: 4 as const })),
]

export function zeroRegs(): UserRegs {
  return Object.fromEntries(USER_REGS.map((name) => [name, 0n])) as Record<UserRegName, bigint>
}

/** The registers in user_regs_struct layout (little endian), as NT_PRSTATUS carries them. */
export function encodeUserRegs(regs: UserRegs): Uint8Array {
  const out = new Uint8Array(USER_REGS_BYTES)
  const view = new DataView(out.buffer)
  USER_REGS.forEach((name, i) => view.setBigUint64(i * 8, BigInt.asUintN(64, regs[name]), true))
  return out
}

/** Where a thread's registers came from. */
export type RegisterSource =
  | 'kernel-stack' // user pt_regs at the top of the thread's kernel stack (saved at its last kernel entry)
  | 'cpu-note' // the vCPU it was running on at dump time, in user mode
  | 'proc-syscall' // /proc/PID/task/TID/syscall: only rip and rsp of a thread blocked in a system call
  | 'none' // unknown: all zero

export interface X86ThreadRegisters {
  readonly arch: 'x86_64'
  readonly source: RegisterSource
  readonly regs: UserRegs
  /** The 512-byte FXSAVE area (x87, SSE), when it could be read. */
  readonly fxsave: Uint8Array | undefined
  /** The XSAVE area in standard format (XCR0 at bytes 464..471), when the kernel uses XSAVE: NT_X86_XSTATE. */
  readonly xsave?: Uint8Array
  /** Why registers are missing or doubtful (damaged stack, running in the kernel, …). */
  readonly warnings: readonly string[]
}

const hex = hex64

/** `info registers` style text: name, hex, and decimal for the general registers. */
export function formatX86Registers(registers: X86ThreadRegisters): string {
  const order: readonly UserRegName[] = ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'rsp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15',
    'rip', 'eflags', 'cs', 'ss', 'ds', 'es', 'fs', 'gs', 'fs_base', 'gs_base', 'orig_rax']
  const rows = order.map((name) => ({ name, value: registers.regs[name], decimal: !(name === 'rip' || name === 'eflags' || name.endsWith('_base')) }))
  return registerText(rows, registers.source, registers.warnings)
}

/** JSON-ready registers: hex strings, so no value loses precision; the FXSAVE area as hex, or null. */
export function x86RegistersJson(registers: X86ThreadRegisters): Record<string, unknown> {
  return {
    arch: 'x86_64',
    source: registers.source,
    registers: Object.fromEntries(USER_REGS.map((name) => [name, hex(registers.regs[name])])),
    fxsave: registers.fxsave === undefined ? null : Buffer.from(registers.fxsave).toString('hex'),
    xsave: registers.xsave === undefined ? null : Buffer.from(registers.xsave).toString('hex'),
    warnings: registers.warnings,
  }
}
