/**
 * The AArch64 user register set of one thread, as every consumer needs it:
 *
 *   AARCH64_REGS      x0..x30, sp, pc, pstate: struct user_pt_regs, the pr_reg of NT_PRSTATUS
 *   tpidr_el0         the thread pointer (TLS), NT_ARM_TLS in a core
 *   fpsimd            struct user_fpsimd_state (v0..v31, fpsr, fpcr): NT_FPREGSET
 *
 * Values are unsigned 64-bit bigints; unknown registers are zero.
 */
import { hex64, registerText } from './register-text.js'
import type { RegisterSource } from './x86-64-registers.js'

export const AARCH64_REGS = [
  'x0', 'x1', 'x2', 'x3', 'x4', 'x5', 'x6', 'x7', 'x8', 'x9', 'x10', 'x11', 'x12', 'x13', 'x14', 'x15',
  'x16', 'x17', 'x18', 'x19', 'x20', 'x21', 'x22', 'x23', 'x24', 'x25', 'x26', 'x27', 'x28', 'x29', 'x30', 'sp', 'pc', 'pstate',
] as const

export type Aarch64RegName = typeof AARCH64_REGS[number] | 'tpidr_el0'
export type Aarch64Regs = Readonly<Record<Aarch64RegName, bigint>>

/** sizeof(struct user_pt_regs). */
export const USER_PT_REGS_BYTES = AARCH64_REGS.length * 8
/** sizeof(struct user_fpsimd_state): 32 128-bit V registers, fpsr, fpcr, two reserved words. */
export const FPSIMD_BYTES = 528
/** pstate.M: bit 4 set is AArch32; M[3:0] 0 is EL0t (user). */
const PSTATE_MODE_MASK = 0x1fn

export interface Aarch64ThreadRegisters {
  readonly arch: 'aarch64'
  readonly source: RegisterSource
  readonly regs: Aarch64Regs
  /** struct user_fpsimd_state, when it could be read. */
  readonly fpsimd: Uint8Array | undefined
  readonly warnings: readonly string[]
}

export function zeroAarch64Regs(): Aarch64Regs {
  return Object.fromEntries([...AARCH64_REGS, 'tpidr_el0'].map((name) => [name, 0n])) as Record<Aarch64RegName, bigint>
}

/** pstate of a 64-bit thread executing at EL0. */
export function isEl0(pstate: bigint): boolean {
  return (pstate & PSTATE_MODE_MASK) === 0n
}

/** x0..x30, sp, pc, pstate from a struct user_pt_regs at offset at (little endian). */
export function decodeUserPtRegs(bytes: Uint8Array, at: number): Record<Aarch64RegName, bigint> {
  const view = new DataView(bytes.buffer, bytes.byteOffset + at, USER_PT_REGS_BYTES)
  const regs: Record<Aarch64RegName, bigint> = { ...zeroAarch64Regs() }
  AARCH64_REGS.forEach((name, i) => { regs[name] = view.getBigUint64(i * 8, true) })
  return regs
}

/** The registers as struct user_pt_regs (NT_PRSTATUS pr_reg). */
export function encodeUserPtRegs(regs: Aarch64Regs): Uint8Array {
  const out = new Uint8Array(USER_PT_REGS_BYTES)
  const view = new DataView(out.buffer)
  AARCH64_REGS.forEach((name, i) => view.setBigUint64(i * 8, BigInt.asUintN(64, regs[name]), true))
  return out
}

const hex = hex64

/** `info registers` style text: name, hex, and decimal for x0..x30. */
export function formatAarch64Registers(registers: Aarch64ThreadRegisters): string {
  const rows = [...AARCH64_REGS, 'tpidr_el0' as const].map((name) => ({ name, value: registers.regs[name], decimal: name.startsWith('x') }))
  return registerText(rows, registers.source, registers.warnings)
}

export function aarch64RegistersJson(registers: Aarch64ThreadRegisters): Record<string, unknown> {
  return {
    arch: 'aarch64',
    source: registers.source,
    registers: Object.fromEntries([...AARCH64_REGS, 'tpidr_el0' as const].map((name) => [name, hex(registers.regs[name])])),
    fpsimd: registers.fpsimd === undefined ? null : Buffer.from(registers.fpsimd).toString('hex'),
    warnings: registers.warnings,
  }
}
