/**
 * Is this task still the one we listed? On a live guest a task_struct can
 * be unlinked, freed and its slab slot reused by a newer task at any time,
 * so the check re-reads the task itself rather than trusting a listing:
 *
 *   task_struct at addr ─▶ pid, tgid, start time the same?  (slot reused → exited)
 *                       ─▶ exit_state 0?                     (zombie / dead → exited)
 *                       ─▶ tasks.prev->next == &task.tasks?  (list_del_rcu poisons prev → exited)
 *                       ─▶ mm, comm the same?                (exec → replaced its program)
 *
 * Two reads: the task_struct prefix, then its list neighbour's link and its
 * parent's tgid in one batch. A fresh record (state, parent) comes back
 * with a positive answer.
 */
import { MemweaveError } from '../../errors/index.js'
import { hex, virtAddr } from '../../mem/index.js'
import { readStructs } from './btf/index.js'
import { isKernelPointer } from './kernel-context.js'
import type { KernelContext } from './kernel-context.js'
import { taskFromView } from './task-list.js'
import type { TaskFields, TaskRecord } from './task-list.js'

export type TaskCheck =
  | { readonly alive: true; readonly task: TaskRecord }
  | { readonly alive: false; readonly reason: string }

const gone = (reason: string): TaskCheck => ({ alive: false, reason })

function u64At(data: Uint8Array): bigint {
  return new DataView(data.buffer, data.byteOffset, data.byteLength).getBigUint64(0, true)
}

/** Re-reads `task` and says whether it is the same, still-listed task (with its current record) or why not. */
export async function checkTask(kernel: KernelContext, fields: TaskFields, task: TaskRecord): Promise<TaskCheck> {
  const [view] = await readStructs(kernel.kmem, [virtAddr(task.addr)], fields.layout, fields.spanBytes)
  if (view === undefined || view instanceof MemweaveError) return gone(`has exited (its task_struct at ${hex(task.addr)} is no longer readable)`)
  const now = taskFromView(fields, view, task.addr)
  if (now.pid !== task.pid || now.tgid !== task.tgid || now.startTime !== task.startTime) {
    return gone(`has exited (its task_struct at ${hex(task.addr)} now holds another task)`)
  }
  if (now.exitState !== 0) return gone('has exited (it is a zombie)')
  const self = task.addr + BigInt(fields.tasksOffset)
  const prev = view.ptr('tasks.prev')
  if (!isKernelPointer(kernel, prev)) return gone('has exited (it is off the task list)')
  const parentKnown = isKernelPointer(kernel, now.realParent)
  const [link, parent] = await kernel.kmem.read([
    { addr: virtAddr(prev), length: 8 },
    ...(parentKnown ? [{ addr: virtAddr(now.realParent + BigInt(fields.tgidOffset)), length: 4 }] : []),
  ])
  if (link === undefined || !link.ok || u64At(link.data) !== self) return gone('has exited (it is off the task list)')
  if (now.mm !== task.mm) return gone(now.mm === 0n ? 'has exited' : 'replaced its program (exec)')
  if (now.comm !== task.comm) return gone(`changed its name to '${now.comm}' (exec or PR_SET_NAME)`)
  const ppid = parent !== undefined && parent.ok ? new DataView(parent.data.buffer, parent.data.byteOffset, 4).getInt32(0, true) : task.ppid
  const { realParent: _parent, ...record } = now
  return { alive: true, task: { ...record, ppid } }
}
