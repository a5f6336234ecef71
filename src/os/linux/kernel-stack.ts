/**
 * Where a Linux thread's user registers sit, on every architecture: the
 * kernel stack of THREAD_SIZE bytes at task->stack, with struct pt_regs at
 * its top (x86-64 may leave a little padding above it; arm64 none).
 *
 *   THREAD_SIZE  BTF union thread_union, else __end_init_task − __start_init_task
 *                (__*_init_stack since 6.x), else a default with a warning
 *   pt_regs      BTF struct pt_regs
 */
import { zeroAarch64Regs } from '../aarch64-registers.js'
import type { ThreadRegisters } from '../thread-state.js'
import { zeroRegs } from '../x86-64-registers.js'
import type { StructLayout } from './btf/index.js'
import { isArm64Kernel } from './kernel-context.js'
import type { KernelContext } from './kernel-context.js'
import { taskStateLetter } from './task-state.js'
import type { ThreadTask } from './thread-list.js'

/** Used only when neither BTF nor the init_task symbols give the stack size (and then with a warning). */
const FALLBACK_THREAD_SIZE = 16384n

export interface StackGeometry {
  readonly threadSize: bigint
  readonly source: string
  readonly ptRegs: StructLayout
}

/** THREAD_SIZE from BTF (union thread_union's stack array), else __end_init_task − __start_init_task (__*_init_stack since 6.x). */
export function stackGeometry(kernel: KernelContext): StackGeometry & { warning?: string } {
  const ptRegs = kernel.btf.struct('pt_regs')
  if (kernel.btf.hasStruct('union thread_union')) {
    const size = BigInt(kernel.btf.struct('union thread_union').sizeBytes)
    if (size >= 4096n && (size & (size - 1n)) === 0n) return { threadSize: size, source: 'BTF union thread_union', ptRegs }
  }
  const start = kernel.symbols.maybe('__start_init_task') ?? kernel.symbols.maybe('__start_init_stack') ?? kernel.symbols.maybe('init_stack')
  const end = kernel.symbols.maybe('__end_init_task') ?? kernel.symbols.maybe('__end_init_stack')
  if (start !== undefined && end !== undefined && end > start && ((end - start) & (end - start - 1n)) === 0n) {
    return { threadSize: end - start, source: 'symbols __start_init_task..__end_init_task (or __start_init_stack..__end_init_stack)', ptRegs }
  }
  return { threadSize: FALLBACK_THREAD_SIZE, source: 'default', ptRegs, warning: `kernel stack size unknown (no BTF thread_union, no init_task stack symbols); assuming ${FALLBACK_THREAD_SIZE}` }
}

/** Zero registers of the kernel's architecture, with one warning saying why. */
export function noUserRegisters(kernel: KernelContext, why: string): ThreadRegisters {
  return isArm64Kernel(kernel)
    ? { arch: 'aarch64', source: 'none', regs: zeroAarch64Regs(), fpsimd: undefined, warnings: [why] }
    : { arch: 'x86_64', source: 'none', regs: zeroRegs(), fxsave: undefined, warnings: [why] }
}

/** The task's state letter; R for a task a CPU was running at dump time. */
export function threadStateLetter(kernel: KernelContext, task: ThreadTask, running: boolean): string {
  const stateField = kernel.btf.struct('task_struct').firstField('__state', 'state').path
  return running ? 'R' : taskStateLetter(Number(task.view.uint(stateField) & 0xffffffffn), task.view.i32('exit_state'))
}

