/**
 * One thread of a process with its user registers, whatever the
 * architecture: x86-64 (x86-64-registers.ts) or AArch64
 * (aarch64-registers.ts). Consumers that need the register names narrow on
 * `registers.arch`; the tree leaves and the core writer dispatch here.
 */
import type { Aarch64ThreadRegisters } from './aarch64-registers.js'
import { aarch64RegistersJson, formatAarch64Registers } from './aarch64-registers.js'
import type { X86ThreadRegisters } from './x86-64-registers.js'
import { formatX86Registers, x86RegistersJson } from './x86-64-registers.js'

export type ThreadRegisters = X86ThreadRegisters | Aarch64ThreadRegisters

/** One thread of a process. */
export interface ThreadState {
  readonly tid: number
  /** The thread's own name (comm). */
  readonly name: string
  /** Single-letter state as in /proc/PID/task/TID/stat. */
  readonly state: string
  /** The CPU it was running on at dump time, if it was running. */
  readonly cpu: number | undefined
  readonly registers: ThreadRegisters
}

/** `info registers` style text, with the source and warnings at the end. */
export function formatRegisters(registers: ThreadRegisters): string {
  return registers.arch === 'aarch64' ? formatAarch64Registers(registers) : formatX86Registers(registers)
}

/** JSON-ready registers: hex strings (no value loses precision), the FP area as hex or null. */
export function registersJson(registers: ThreadRegisters): Record<string, unknown> {
  return registers.arch === 'aarch64' ? aarch64RegistersJson(registers) : x86RegistersJson(registers)
}
