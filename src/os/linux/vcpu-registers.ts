/**
 * Which task each virtual CPU was running at dump time, and its registers.
 *
 *   QEMU notes (one QEMUCPUState per vCPU, in CPU order) ─▶ rax..r15, rip, rflags, segments (selector + base)
 *   per-CPU current task: __per_cpu_offset[cpu] + current_task (or pcpu_hot.current_task)
 *
 * A thread caught in user mode on a vCPU has its live registers only there
 * (its pt_regs hold those of its previous kernel entry).
 */
import type { ElfNote } from '../../connectors/index.js'
import { virtAddr } from '../../mem/index.js'
import type { UserRegs } from '../x86-64-registers.js'
import { zeroRegs } from '../x86-64-registers.js'
import { isKernelPointer } from './kernel-context.js'
import type { KernelContext } from './kernel-context.js'

export interface VcpuState {
  readonly cpu: number
  /** task_struct address of the task the CPU was running, when the per-CPU variable could be read. */
  readonly currentTask: bigint | undefined
  readonly regs: UserRegs
  /** CS privilege level 3: the CPU was executing user code. */
  readonly userMode: boolean
}

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

/** The per-CPU address of the current-task pointer: current_task (before 6.2) or pcpu_hot.current_task. */
function currentTaskOffset(kernel: KernelContext): bigint | undefined {
  const plain = kernel.symbols.maybe('current_task')
  if (plain !== undefined) return plain
  const hot = kernel.symbols.maybe('pcpu_hot')
  if (hot === undefined || !kernel.btf.hasStruct('pcpu_hot')) return undefined
  const layout = kernel.btf.struct('pcpu_hot')
  return layout.has('current_task') ? hot + BigInt(layout.field('current_task').offsetBytes) : undefined
}

/** Each vCPU of a dump with the task it was running; empty when the dump has no QEMU CPU notes. */
export async function readVcpuStates(kernel: KernelContext, notes: readonly ElfNote[]): Promise<VcpuState[]> {
  const cpus = qemuCpuRegisters(notes)
  if (cpus.length === 0) return []
  const offsets = kernel.symbols.maybe('__per_cpu_offset')
  const current = currentTaskOffset(kernel)
  let tasks: (bigint | undefined)[] = cpus.map(() => undefined)
  if (offsets !== undefined && current !== undefined) {
    const bases = await kernel.kmem.read(cpus.map((_, i) => ({ addr: virtAddr(offsets + BigInt(i) * 8n), length: 8 })))
    const pointers = bases.map((r) => (r.ok ? new DataView(r.data.buffer, r.data.byteOffset, 8).getBigUint64(0, true) : undefined))
    const reads = await kernel.kmem.read(pointers.map((base) => ({ addr: virtAddr(BigInt.asUintN(64, (base ?? 0n) + current)), length: 8 })))
    tasks = reads.map((r, i) => {
      if (!r.ok || pointers[i] === undefined) return undefined
      const task = new DataView(r.data.buffer, r.data.byteOffset, 8).getBigUint64(0, true)
      return isKernelPointer(kernel, task) ? task : undefined
    })
  }
  return cpus.map((c, cpu) => ({ cpu, currentTask: tasks[cpu], regs: c.regs, userMode: c.userMode }))
}
