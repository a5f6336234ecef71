/**
 * User-mode registers of arm64 Linux threads from the kernel's own records:
 *
 *   task->stack ─▶ top of the kernel stack (THREAD_SIZE, kernel-stack.ts)
 *                  − sizeof(struct pt_regs) ─▶ user_pt_regs {x0..x30, sp, pc, pstate}
 *                  saved at the thread's last kernel entry (no padding on arm64)
 *   task->thread.uw.tp_value        ─▶ tpidr_el0 (the thread pointer, TLS)
 *   task->thread.uw.fpsimd_state    ─▶ V0..V31, FPSR, FPCR (when thread.fp_type says
 *                                      the state is in FPSIMD form, not SVE)
 *   a thread a vCPU was running at EL0 ─▶ that CPU's NT_PRSTATUS / NT_FPREGSET instead
 *
 * Pointers the kernel untags (task->stack) are untagged first. Anything
 * implausible (a stack pointer out of the kernel half or misaligned, a
 * zeroed pt_regs, a frame that is not EL0/AArch64, pc or sp outside user
 * space) gives zero registers and a warning, never an error.
 */
import { hex, virtAddr } from '../../mem/index.js'
import { halfBits } from '../../arch/index.js'
import type { Aarch64Regs, Aarch64ThreadRegisters } from '../aarch64-registers.js'
import { decodeUserPtRegs, FPSIMD_BYTES, isEl0, zeroAarch64Regs } from '../aarch64-registers.js'
import type { ThreadState } from '../thread-state.js'
import type { StructView } from './btf/index.js'
import { isKernelPointer, untagKernelPointer } from './kernel-context.js'
import type { KernelContext } from './kernel-context.js'
import { stackGeometry, threadStateLetter } from './kernel-stack.js'
import type { StackGeometry } from './kernel-stack.js'
import type { ThreadTask } from './thread-list.js'
import type { Arm64VcpuState } from './vcpu-registers.js'

/** pstate.M[4]: the thread runs in AArch32 state (a compat task). */
const PSTATE_AARCH32 = 0x10n

/** tpidr_el0 as saved at the last switch: thread.uw.tp_value (4.18+), thread.tp_value before. */
function threadPointer(view: StructView): bigint {
  const layout = view.layout
  if (layout.has('thread.uw.tp_value')) return view.uint('thread.uw.tp_value')
  return layout.has('thread.tp_value') ? view.uint('thread.tp_value') : 0n
}

/**
 * The saved FP/SIMD registers (struct user_fpsimd_state) inside the task,
 * or why not: when thread.fp_type is FP_STATE_SVE the V registers live in
 * the SVE buffer, which is not decoded here.
 */
function savedFpsimd(kernel: KernelContext, view: StructView): { fpsimd: Uint8Array | undefined; warning?: string } {
  const layout = view.layout
  const path = layout.has('thread.uw.fpsimd_state') ? 'thread.uw.fpsimd_state' : layout.has('thread.fpsimd_state') ? 'thread.fpsimd_state' : undefined
  if (path === undefined) return { fpsimd: undefined, warning: 'this kernel has no thread.uw.fpsimd_state: no FP/SIMD registers' }
  if (layout.has('thread.fp_type')) {
    const types = kernel.btf.enumValues('fp_type')
    const type = view.uint('thread.fp_type')
    if (types.get('FP_STATE_SVE') === type) return { fpsimd: undefined, warning: 'its FP/SIMD state is held in SVE form (thread.sve_state), which is not decoded: no FP/SIMD registers' }
  }
  const bytes = view.bytes(path)
  return { fpsimd: bytes.length >= FPSIMD_BYTES ? bytes.slice(0, FPSIMD_BYTES) : undefined }
}

/** Why decoded registers cannot be a 64-bit user thread's, or undefined when they can. */
function implausible(regs: Aarch64Regs, userEnd: bigint): string | undefined {
  if (Object.values(regs).every((v) => v === 0n)) return 'pt_regs is all zero'
  if ((regs.pstate & PSTATE_AARCH32) !== 0n) return `pt_regs is an AArch32 (compat) frame (pstate ${hex(regs.pstate)}): 32-bit threads are not decoded`
  if (!isEl0(regs.pstate)) return `pt_regs is not a user (EL0) frame (pstate ${hex(regs.pstate)})`
  if (regs.pc >= userEnd || regs.sp >= userEnd) return `pt_regs pc ${hex(regs.pc)} / sp ${hex(regs.sp)} is outside user space`
  return undefined
}

export async function readArm64ThreadStates(kernel: KernelContext, tasks: readonly ThreadTask[], vcpus: readonly Arm64VcpuState[]): Promise<ThreadState[]> {
  const geometry = stackGeometry(kernel)
  const ptRegsBytes = geometry.ptRegs.sizeBytes
  const userRegsOffset = geometry.ptRegs.has('user_regs') ? geometry.ptRegs.field('user_regs').offsetBytes : geometry.ptRegs.field('regs').offsetBytes
  const userEnd = 1n << BigInt(halfBits(kernel.mode))
  const stacks = tasks.map((t) => untagKernelPointer(kernel, t.view.ptr('stack')))
  const readable = stacks.map((s) => isKernelPointer(kernel, s) && (s & (geometry.threadSize - 1n)) === 0n)
  const reads = await kernel.kmem.read(stacks.map((s, i) => ({
    addr: virtAddr(readable[i] === true ? s + geometry.threadSize - BigInt(ptRegsBytes) : 0n), length: readable[i] === true ? ptRegsBytes : 1,
  })))
  return tasks.map((task, i): ThreadState => {
    const warnings: string[] = geometry.warning === undefined ? [] : [geometry.warning]
    const vcpu = vcpus.find((c) => c.currentTask === task.addr)
    const saved = savedFpsimd(kernel, task.view)
    const tpidr = threadPointer(task.view)
    let registers: Aarch64ThreadRegisters
    if (vcpu !== undefined && vcpu.userMode) {
      const fpsimd = vcpu.fpsimd ?? saved.fpsimd
      registers = {
        arch: 'aarch64', source: 'cpu-note', regs: { ...vcpu.regs, tpidr_el0: tpidr }, fpsimd,
        warnings: [...warnings, `running on CPU ${vcpu.cpu}: tpidr_el0 is the value saved at its last switch (the CPU note does not carry it)`,
          ...(vcpu.fpsimd === undefined && fpsimd !== undefined ? ['the FP/SIMD registers in memory are from its last switch, not live'] : [])],
      }
    } else {
      const read = reads[i]
      const none = (why: string): Aarch64ThreadRegisters => ({ arch: 'aarch64', source: 'none', regs: zeroAarch64Regs(), fpsimd: saved.fpsimd, warnings: [...warnings, why] })
      if (readable[i] !== true) {
        registers = none(`task ${hex(task.addr)}: kernel stack pointer ${hex(stacks[i] ?? 0n)} is not a ${geometry.threadSize}-aligned kernel address`)
      } else if (read === undefined || !read.ok) {
        registers = none(`task ${hex(task.addr)}: cannot read pt_regs below the stack top ${hex((stacks[i] ?? 0n) + geometry.threadSize)}${read?.ok === false ? ` (${read.error.message})` : ''}`)
      } else {
        registers = fromPtRegs(task, read.data, userRegsOffset, userEnd, tpidr, saved.fpsimd, warnings, geometry)
      }
      if (vcpu !== undefined) registers = { ...registers, warnings: [...registers.warnings, `in the kernel on CPU ${vcpu.cpu} at dump time: user registers are those of its kernel entry`] }
    }
    if (saved.warning !== undefined && registers.source !== 'none') registers = { ...registers, warnings: [...registers.warnings, saved.warning] }
    return { tid: task.view.i32('pid'), name: task.view.cstring('comm'), state: threadStateLetter(kernel, task, vcpu !== undefined), cpu: vcpu?.cpu, registers }
  })
}

function fromPtRegs(task: ThreadTask, bytes: Uint8Array, userRegsOffset: number, userEnd: bigint, tpidr: bigint, fpsimd: Uint8Array | undefined,
  warnings: readonly string[], geometry: StackGeometry): Aarch64ThreadRegisters {
  const regs = decodeUserPtRegs(bytes, userRegsOffset)
  const why = implausible(regs, userEnd)
  if (why !== undefined) {
    return { arch: 'aarch64', source: 'none', regs: zeroAarch64Regs(), fpsimd, warnings: [...warnings, `task ${hex(task.addr)}: ${why} (pt_regs ${geometry.ptRegs.sizeBytes} bytes below the stack top)`] }
  }
  return { arch: 'aarch64', source: 'kernel-stack', regs: { ...regs, tpidr_el0: tpidr }, fpsimd, warnings }
}
