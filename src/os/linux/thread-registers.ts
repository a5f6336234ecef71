/**
 * User-mode registers of Linux threads from the kernel's own records:
 *
 *   task->stack ─▶ top of the kernel stack (THREAD_SIZE from BTF union thread_union)
 *                  − padding − sizeof(struct pt_regs) ─▶ the registers saved at kernel entry
 *   task->thread.fsbase / gsbase / es, ds, fsindex, gsindex
 *   task->thread.fpu.fpstate->regs (or the inline thread.fpu.state) ─▶ FXSAVE area, and the
 *                  whole XSAVE area in standard format when the kernel uses XSAVE (x86-xstate.ts)
 *   a thread a vCPU was running in user mode ─▶ that CPU's note instead
 *
 * arm64 guests are read in arm64-thread-registers.ts (same geometry).
 *
 * The padding above pt_regs (TOP_OF_KERNEL_STACK_PADDING: 0, or 16 with
 * FRED) is not in BTF: both candidates are read and the one holding user
 * segment selectors wins. Anything implausible (a stack pointer out of the
 * kernel half, a zeroed or kernel-mode pt_regs) gives zero registers and a
 * warning, never an error: one damaged thread must not hide the others.
 */
import { MemweaveError } from '../../errors/index.js'
import { hex, virtAddr } from '../../mem/index.js'
import type { ThreadState } from '../thread-state.js'
import type { UserRegName, UserRegs, X86ThreadRegisters } from '../x86-64-registers.js'
import { FXSAVE_BYTES, zeroRegs } from '../x86-64-registers.js'
import { readArm64ThreadStates } from './arm64-thread-registers.js'
import type { StructLayout, StructView } from './btf/index.js'
import { stackGeometry, threadStateLetter } from './kernel-stack.js'
import type { StackGeometry } from './kernel-stack.js'
import { isArm64Kernel, isKernelPointer } from './kernel-context.js'
import type { KernelContext } from './kernel-context.js'
import type { ThreadTask } from './thread-list.js'
import { readXsaveConfig, standardXsave } from './x86-xstate.js'
import type { XsaveConfig } from './x86-xstate.js'
import type { Arm64VcpuState, VcpuState, X86VcpuState } from './vcpu-registers.js'

/** pt_regs field → user_regs_struct name (arch/x86/include/asm/ptrace.h). */
const PT_REGS_FIELDS: readonly (readonly [string, UserRegName])[] = [
  ['r15', 'r15'], ['r14', 'r14'], ['r13', 'r13'], ['r12', 'r12'], ['bp', 'rbp'], ['bx', 'rbx'], ['r11', 'r11'], ['r10', 'r10'],
  ['r9', 'r9'], ['r8', 'r8'], ['ax', 'rax'], ['cx', 'rcx'], ['dx', 'rdx'], ['si', 'rsi'], ['di', 'rdi'], ['orig_ax', 'orig_rax'],
  ['ip', 'rip'], ['cs', 'cs'], ['flags', 'eflags'], ['sp', 'rsp'], ['ss', 'ss'],
]
/** thread_struct selector fields → user_regs_struct names. */
const SELECTOR_FIELDS: readonly (readonly [string, UserRegName])[] = [['ds', 'ds'], ['es', 'es'], ['fsindex', 'fs'], ['gsindex', 'gs']]
/** Candidate TOP_OF_KERNEL_STACK_PADDING values on x86-64 (0; 16 with CONFIG_X86_FRED). */
const PADDINGS = [0, 16] as const
const USER_HALF_END = 1n << 47n

export { noUserRegisters, stackGeometry } from './kernel-stack.js'
export type { StackGeometry } from './kernel-stack.js'
function decodePtRegs(bytes: Uint8Array, at: number, layout: StructLayout): Record<UserRegName, bigint> {
  const view = new DataView(bytes.buffer, bytes.byteOffset + at, layout.sizeBytes)
  const regs: Record<UserRegName, bigint> = { ...zeroRegs() }
  for (const [field, name] of PT_REGS_FIELDS) {
    const f = layout.field(field)
    regs[name] = f.sizeBytes === 8 ? view.getBigUint64(f.offsetBytes, true)
      : f.sizeBytes === 4 ? BigInt(view.getUint32(f.offsetBytes, true)) : BigInt(view.getUint16(f.offsetBytes, true))
  }
  return regs
}

function userSelectors(regs: UserRegs): boolean {
  return (regs.cs & 3n) === 3n && (regs.ss & 3n) === 3n
}

/** Why a decoded pt_regs cannot be a user thread's registers, or undefined when it can. */
function implausible(regs: UserRegs): string | undefined {
  if (Object.values(regs).every((v) => v === 0n)) return 'pt_regs is all zero'
  if (!userSelectors(regs)) return `pt_regs holds no user-mode selectors (cs ${hex(regs.cs)}, ss ${hex(regs.ss)})`
  if (regs.rip >= USER_HALF_END || regs.rsp >= USER_HALF_END) return `pt_regs rip ${hex(regs.rip)} / rsp ${hex(regs.rsp)} is outside user space`
  return undefined
}

/** Reads 16-bit selector fields and bases from the task's thread_struct, where the kernel has them. */
function threadStructRegs(view: StructView): Partial<Record<UserRegName, bigint>> {
  const out: Partial<Record<UserRegName, bigint>> = {}
  const layout = view.layout
  if (layout.has('thread.fsbase')) out.fs_base = view.uint('thread.fsbase')
  if (layout.has('thread.gsbase')) out.gs_base = view.uint('thread.gsbase')
  for (const [field, name] of SELECTOR_FIELDS) if (layout.has(`thread.${field}`)) out[name] = view.uint(`thread.${field}`)
  return out
}

/**
 * Address of each thread's FXSAVE area: fpstate->regs (5.16+) or the inline
 * thread.fpu.state. Since 6.16 struct fpu is no longer in thread_struct but
 * right after the task_struct (x86_task_fpu(): task + sizeof(task_struct)).
 */
async function fxsaveAddrs(kernel: KernelContext, tasks: readonly ThreadTask[]): Promise<(bigint | undefined)[]> {
  const task = kernel.btf.struct('task_struct')
  if (!task.has('thread.fpu') && kernel.btf.hasStruct('fpu') && kernel.btf.hasStruct('fpstate') && kernel.btf.struct('fpu').has('fpstate')) {
    const fpuOffset = (BigInt(task.sizeBytes) + 63n) & ~63n
    const fpstateField = BigInt(kernel.btf.struct('fpu').field('fpstate').offsetBytes)
    const regsOffset = BigInt(kernel.btf.struct('fpstate').field('regs').offsetBytes)
    const reads = await kernel.kmem.read(tasks.map((t) => ({ addr: virtAddr(t.addr + fpuOffset + fpstateField), length: 8 })))
    return reads.map((r) => {
      if (r === undefined || !r.ok || r.data.length < 8) return undefined
      const fpstate = new DataView(r.data.buffer, r.data.byteOffset, 8).getBigUint64(0, true)
      return isKernelPointer(kernel, fpstate) ? fpstate + regsOffset : undefined
    })
  }
  if (task.has('thread.fpu.fpstate') && kernel.btf.hasStruct('fpstate')) {
    const regsOffset = BigInt(kernel.btf.struct('fpstate').field('regs').offsetBytes)
    return tasks.map((t) => {
      const fpstate = t.view.ptr('thread.fpu.fpstate')
      return isKernelPointer(kernel, fpstate) ? fpstate + regsOffset : undefined
    })
  }
  if (task.has('thread.fpu.state')) {
    const offset = BigInt(task.field('thread.fpu.state').offsetBytes)
    return tasks.map((t) => t.addr + offset)
  }
  return tasks.map(() => undefined)
}

/** State, registers and FPU area of each thread; vcpus are the dump's CPUs (empty for live guests). */
export async function readThreadStates(kernel: KernelContext, tasks: readonly ThreadTask[], vcpus: readonly VcpuState[]): Promise<ThreadState[]> {
  if (isArm64Kernel(kernel)) return readArm64ThreadStates(kernel, tasks, vcpus.filter((c): c is Arm64VcpuState => c.arch === 'aarch64'))
  return readX86ThreadStates(kernel, tasks, vcpus.filter((c): c is X86VcpuState => c.arch === 'x86_64'))
}

const xsaveConfigs = new WeakMap<KernelContext, Promise<XsaveConfig | { why: string }>>()

/** The kernel's XSAVE layout, read once per kernel (it is fixed at boot); a failed read is tried again next time. */
function kernelXsaveConfig(kernel: KernelContext): Promise<XsaveConfig | { why: string }> {
  let config = xsaveConfigs.get(kernel)
  if (config === undefined) {
    config = readXsaveConfig(kernel).catch((err: unknown) => {
      xsaveConfigs.delete(kernel)
      return { why: `cannot read the XSAVE layout (${err instanceof Error ? err.message : String(err)})` }
    })
    xsaveConfigs.set(kernel, config)
  }
  return config
}

async function readX86ThreadStates(kernel: KernelContext, tasks: readonly ThreadTask[], vcpus: readonly X86VcpuState[]): Promise<ThreadState[]> {
  const geometry = stackGeometry(kernel)
  const ptRegsBytes = geometry.ptRegs.sizeBytes
  const span = ptRegsBytes + Math.max(...PADDINGS)
  const stacks = tasks.map((t) => t.view.ptr('stack'))
  const readable = stacks.map((s) => isKernelPointer(kernel, s) && (s & (geometry.threadSize - 1n)) === 0n)
  const [regReads, fpAddrs] = await Promise.all([
    kernel.kmem.read(stacks.map((s, i) => ({ addr: virtAddr(readable[i] === true ? s + geometry.threadSize - BigInt(span) : 0n), length: readable[i] === true ? span : 1 }))),
    fxsaveAddrs(kernel, tasks),
  ])
  const xsaveConfig = await kernelXsaveConfig(kernel)
  const fpBytes = 'why' in xsaveConfig ? FXSAVE_BYTES : xsaveConfig.bufferSize
  const fpReads = await kernel.kmem.read(fpAddrs.map((a) => ({ addr: virtAddr(a ?? 0n), length: a === undefined ? 1 : fpBytes })))
  return tasks.map((task, i): ThreadState => {
    const warnings: string[] = geometry.warning === undefined ? [] : [geometry.warning]
    const tid = task.view.i32('pid')
    const vcpu = vcpus.find((c) => c.currentTask === task.addr)
    const fpRead = fpReads[i]
    const fpData = fpAddrs[i] !== undefined && fpRead?.ok === true ? fpRead.data : undefined
    const fxsave = fpData?.slice(0, FXSAVE_BYTES)
    const xsave = fpData === undefined || 'why' in xsaveConfig ? undefined : standardXsave(xsaveConfig, fpData)
    if (xsave !== undefined && 'why' in xsave) warnings.push(`no XSAVE state: ${xsave.why}`)
    let registers: X86ThreadRegisters
    if (vcpu !== undefined && vcpu.userMode) {
      registers = { arch: 'x86_64', source: 'cpu-note', regs: vcpu.regs, fxsave, warnings: [...warnings, ...(fxsave === undefined ? [] : [`running on CPU ${vcpu.cpu}: the FPU area in memory is from its last switch, not live`])] }
    } else {
      registers = kernelStackRegisters(task, stacks[i] ?? 0n, readable[i] === true, regReads[i], geometry, warnings, fxsave)
      if (vcpu !== undefined) warnings.push(`in the kernel on CPU ${vcpu.cpu} at dump time: user registers are those of its kernel entry`)
    }
    if (xsave instanceof Uint8Array) registers = { ...registers, xsave }
    return { tid, name: task.view.cstring('comm'), state: threadStateLetter(kernel, task, vcpu !== undefined), cpu: vcpu?.cpu, registers }
  })
}

function kernelStackRegisters(task: ThreadTask, stack: bigint, readable: boolean, read: { ok: true; data: Uint8Array } | { ok: false; error: MemweaveError } | undefined,
  geometry: StackGeometry, warnings: string[], fxsave: Uint8Array | undefined): X86ThreadRegisters {
  const none = (why: string): X86ThreadRegisters => ({ arch: 'x86_64', source: 'none', regs: zeroRegs(), fxsave, warnings: [...warnings, why] })
  if (!readable) return none(`task ${hex(task.addr)}: kernel stack pointer ${hex(stack)} is not a ${geometry.threadSize}-aligned kernel address`)
  if (read === undefined || !read.ok) return none(`task ${hex(task.addr)}: cannot read pt_regs below the stack top ${hex(stack + geometry.threadSize)}${read?.ok === false ? ` (${read.error.message})` : ''}`)
  const span = read.data.length
  const candidates = PADDINGS.map((padding) => decodePtRegs(read.data, span - padding - geometry.ptRegs.sizeBytes, geometry.ptRegs))
  const chosen = candidates.find((regs) => implausible(regs) === undefined)
  if (chosen === undefined) return none(`task ${hex(task.addr)}: ${implausible(candidates[0] ?? zeroRegs()) ?? 'pt_regs unreadable'}`)
  const regs: UserRegs = { ...chosen, ...threadStructRegs(task.view) }
  return { arch: 'x86_64', source: 'kernel-stack', regs, fxsave, warnings }
}
