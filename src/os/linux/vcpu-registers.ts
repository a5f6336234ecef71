/**
 * Which task each virtual CPU was running at dump time, and its registers.
 *
 *   x86-64: QEMU notes (one QEMUCPUState per vCPU, in CPU order) ─▶ rax..r15, rip, rflags, segments
 *   arm64:  CORE NT_PRSTATUS per vCPU (aarch64 elf_prstatus: x0..x30, sp, pc, pstate),
 *           each followed by its NT_PRFPREG, a.k.a. NT_FPREGSET (user_fpsimd_state)
 *   per-CPU current task: __per_cpu_offset[cpu] + current_task (or pcpu_hot.current_task),
 *           else the generic runqueues.curr (arm64 keeps current in SP_EL0, which no note holds)
 *
 * A thread caught in user mode on a vCPU has its live registers only there
 * (its pt_regs hold those of its previous kernel entry).
 */
import { NT_PRFPREG, NT_PRSTATUS } from '../../connectors/index.js'
import type { ElfNote } from '../../connectors/index.js'
import { virtAddr } from '../../mem/index.js'
import type { Aarch64Regs } from '../aarch64-registers.js'
import { decodeUserPtRegs, FPSIMD_BYTES, isEl0 } from '../aarch64-registers.js'
import type { UserRegs } from '../x86-64-registers.js'
import { zeroRegs } from '../x86-64-registers.js'
import { isArm64Kernel, isKernelPointer, untagKernelPointer } from './kernel-context.js'
import type { KernelContext } from './kernel-context.js'

interface VcpuCommon {
  readonly cpu: number
  /** task_struct address of the task the CPU was running, when the per-CPU variable could be read. */
  readonly currentTask: bigint | undefined
  /** The CPU was executing user code (x86-64: CS privilege level 3; arm64: EL0 in AArch64 state). */
  readonly userMode: boolean
}

export interface X86VcpuState extends VcpuCommon {
  readonly arch: 'x86_64'
  readonly regs: UserRegs
}

export interface Arm64VcpuState extends VcpuCommon {
  readonly arch: 'aarch64'
  readonly regs: Aarch64Regs
  /** The CPU's live FP/SIMD registers (its NT_FPREGSET note), when the dump has them. */
  readonly fpsimd: Uint8Array | undefined
}

export type VcpuState = X86VcpuState | Arm64VcpuState

/** sizeof(struct elf_prstatus) on arm64, and where pr_reg (struct user_pt_regs) starts in it. */
const ARM64_PRSTATUS_BYTES = 392
const PR_REG_OFFSET = 112

const HEADER_BYTES = 8
const GPR_ORDER = ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rsp', 'rbp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'rip', 'eflags'] as const
const SEGMENT_ORDER = ['cs', 'ds', 'es', 'fs', 'gs', 'ss'] as const
const SEGMENT_BYTES = 24
const SEGMENTS_OFFSET = HEADER_BYTES + GPR_ORDER.length * 8
/** Ten segment records (six selectors, ldt, tr, gdt, idt) before the control registers. */
const MIN_STATE_BYTES = SEGMENTS_OFFSET + 10 * SEGMENT_BYTES
/** At most this many CPUs are looked at (far above any guest we open). */
const MAX_CPUS = 8192

/** Registers of each vCPU in the QEMU notes of a dump-guest-memory ELF file. */
export function qemuCpuRegisters(notes: readonly ElfNote[]): { regs: UserRegs; userMode: boolean }[] {
  const out: { regs: UserRegs; userMode: boolean }[] = []
  for (const note of notes) {
    if (note.name !== 'QEMU' || note.desc.length < MIN_STATE_BYTES) continue
    const view = new DataView(note.desc.buffer, note.desc.byteOffset, note.desc.byteLength)
    const regs: Record<string, bigint> = { ...zeroRegs() }
    GPR_ORDER.forEach((name, i) => { regs[name] = view.getBigUint64(HEADER_BYTES + i * 8, true) })
    SEGMENT_ORDER.forEach((name, i) => { regs[name] = BigInt(view.getUint32(SEGMENTS_OFFSET + i * SEGMENT_BYTES, true)) })
    const fs = SEGMENT_ORDER.indexOf('fs')
    const gs = SEGMENT_ORDER.indexOf('gs')
    regs['fs_base'] = view.getBigUint64(SEGMENTS_OFFSET + fs * SEGMENT_BYTES + 16, true)
    regs['gs_base'] = view.getBigUint64(SEGMENTS_OFFSET + gs * SEGMENT_BYTES + 16, true)
    // Not in a system call: what the kernel itself stores for an interrupted user thread.
    regs['orig_rax'] = 0xffffffffffffffffn
    const complete: UserRegs = { ...zeroRegs(), ...regs }
    out.push({ regs: complete, userMode: (complete.cs & 3n) === 3n })
    if (out.length >= MAX_CPUS) break
  }
  return out
}

/** Registers of each vCPU in the CORE notes of an arm64 dump-guest-memory ELF file, with the FP/SIMD note that follows each. */
export function arm64CpuRegisters(notes: readonly ElfNote[]): { regs: Aarch64Regs; fpsimd: Uint8Array | undefined; userMode: boolean }[] {
  const out: { regs: Aarch64Regs; fpsimd: Uint8Array | undefined; userMode: boolean }[] = []
  for (const note of notes) {
    if (note.name !== 'CORE') continue
    if (note.type === NT_PRSTATUS && note.desc.length === ARM64_PRSTATUS_BYTES) {
      const regs = decodeUserPtRegs(note.desc, PR_REG_OFFSET)
      out.push({ regs, fpsimd: undefined, userMode: isEl0(regs.pstate) })
      if (out.length >= MAX_CPUS) break
    } else if (note.type === NT_PRFPREG && note.desc.length >= FPSIMD_BYTES) {
      const last = out[out.length - 1]
      if (last !== undefined && last.fpsimd === undefined) out[out.length - 1] = { ...last, fpsimd: note.desc.slice(0, FPSIMD_BYTES) }
    }
  }
  return out
}

/**
 * The per-CPU address of the current-task pointer: current_task (before 6.2)
 * or pcpu_hot.current_task on x86-64; else runqueues.curr (every architecture).
 */
function currentTaskOffset(kernel: KernelContext): bigint | undefined {
  const plain = kernel.symbols.maybe('current_task')
  if (plain !== undefined) return plain
  const hot = kernel.symbols.maybe('pcpu_hot')
  if (hot !== undefined && kernel.btf.hasStruct('pcpu_hot') && kernel.btf.struct('pcpu_hot').has('current_task')) {
    return hot + BigInt(kernel.btf.struct('pcpu_hot').field('current_task').offsetBytes)
  }
  const runqueues = kernel.symbols.maybe('runqueues')
  if (runqueues === undefined || !kernel.btf.hasStruct('rq') || !kernel.btf.struct('rq').has('curr')) return undefined
  return runqueues + BigInt(kernel.btf.struct('rq').field('curr').offsetBytes)
}

/** The task each CPU was running (per-CPU current pointer), undefined where it cannot be read. */
async function currentTasks(kernel: KernelContext, count: number): Promise<(bigint | undefined)[]> {
  const offsets = kernel.symbols.maybe('__per_cpu_offset')
  const current = currentTaskOffset(kernel)
  if (offsets === undefined || current === undefined) return Array.from({ length: count }, () => undefined)
  const bases = await kernel.kmem.read(Array.from({ length: count }, (_, i) => ({ addr: virtAddr(offsets + BigInt(i) * 8n), length: 8 })))
  const pointers = bases.map((r) => (r.ok ? new DataView(r.data.buffer, r.data.byteOffset, 8).getBigUint64(0, true) : undefined))
  const reads = await kernel.kmem.read(pointers.map((base) => ({ addr: virtAddr(BigInt.asUintN(64, (base ?? 0n) + current)), length: 8 })))
  return reads.map((r, i) => {
    if (!r.ok || pointers[i] === undefined) return undefined
    const task = untagKernelPointer(kernel, new DataView(r.data.buffer, r.data.byteOffset, 8).getBigUint64(0, true))
    return isKernelPointer(kernel, task) ? task : undefined
  })
}

/** Each vCPU of a dump with the task it was running; empty when the dump has no CPU notes. */
export async function readVcpuStates(kernel: KernelContext, notes: readonly ElfNote[]): Promise<VcpuState[]> {
  if (isArm64Kernel(kernel)) {
    const cpus = arm64CpuRegisters(notes)
    if (cpus.length === 0) return []
    const tasks = await currentTasks(kernel, cpus.length)
    return cpus.map((c, cpu): Arm64VcpuState => ({ arch: 'aarch64', cpu, currentTask: tasks[cpu], regs: c.regs, fpsimd: c.fpsimd, userMode: c.userMode }))
  }
  const cpus = qemuCpuRegisters(notes)
  if (cpus.length === 0) return []
  const tasks = await currentTasks(kernel, cpus.length)
  return cpus.map((c, cpu): X86VcpuState => ({ arch: 'x86_64', cpu, currentTask: tasks[cpu], regs: c.regs, userMode: c.userMode }))
}
