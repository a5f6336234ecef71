/**
 * The debugger's view of one Linux process: its threads with their
 * registers (thread-list.ts, thread-registers.ts) and its auxiliary vector
 * as the kernel saved it at exec (mm->saved_auxv, what /proc/PID/auxv shows).
 */
import { virtAddr } from '../../mem/index.js'
import type { ThreadState } from '../thread-state.js'
import type { KernelContext } from './kernel-context.js'
import type { MmRecord } from './task-details.js'
import type { TaskRecord } from './task-list.js'
import { readThreadTasks } from './thread-list.js'
import { noUserRegisters, readThreadStates } from './thread-registers.js'
import type { VcpuState } from './vcpu-registers.js'

const AT_NULL = 0n

/** Threads of the group led by task, leader first; list damage shows as warnings on the leader. */
export async function readProcessThreads(kernel: KernelContext, task: TaskRecord, kernelThread: boolean, vcpus: readonly VcpuState[]): Promise<ThreadState[]> {
  const { threads, warnings } = await readThreadTasks(kernel, task)
  const states = await readThreadStates(kernel, threads, vcpus)
  return states.map((state, i) => {
    if (kernelThread) {
      return { ...state, registers: noUserRegisters(kernel, 'kernel thread: it has no user-mode registers') }
    }
    return i === 0 && warnings.length > 0 ? { ...state, registers: { ...state.registers, warnings: [...state.registers.warnings, ...warnings] } } : state
  })
}

/** mm->saved_auxv up to and including its AT_NULL pair (empty when the field is missing or unreadable). */
export async function readSavedAuxv(kernel: KernelContext, mm: MmRecord): Promise<Uint8Array> {
  const layout = kernel.btf.struct('mm_struct')
  if (!layout.has('saved_auxv')) return new Uint8Array()
  const field = layout.field('saved_auxv')
  const [result] = await kernel.kmem.read([{ addr: virtAddr(mm.addr + BigInt(field.offsetBytes)), length: field.sizeBytes }])
  if (result === undefined || !result.ok) return new Uint8Array()
  const view = new DataView(result.data.buffer, result.data.byteOffset, result.data.byteLength)
  for (let at = 0; at + 16 <= result.data.length; at += 16) {
    if (view.getBigUint64(at, true) === AT_NULL) return result.data.slice(0, at + 16)
  }
  return result.data.slice(0, result.data.length - (result.data.length % 16))
}
