/**
 * The kernel's process list: init_task.tasks links every thread-group leader
 * (threads are not on it). Each step reads the next task_struct (only the
 * prefix holding the fields we use) and follows tasks.next back through
 * container_of, bounded against cycles and garbage: a visited set, a task
 * count limit and kernel-pointer checks. Parents' tgids (real_parent may be
 * any thread) come in one batched read afterwards.
 */
import { MemweaveError } from '../../errors/index.js'
import { hex, virtAddr } from '../../mem/index.js'
import type { StructLayout, StructView } from './btf/index.js'
import { readStructs } from './btf/index.js'
import { isKernelPointer } from './kernel-context.js'
import type { KernelContext } from './kernel-context.js'

export interface TaskRecord {
  /** Address of the task_struct. */
  readonly addr: bigint
  readonly pid: number
  readonly tgid: number
  readonly ppid: number
  readonly comm: string
  readonly state: number
  readonly exitState: number
  readonly flags: number
  readonly mm: bigint
  readonly realCred: bigint
  readonly signal: bigint
  /** start_boottime in ns: tells a task from a later one with the same pid. */
  readonly startTime: bigint
}

/** More thread-group leaders than any real system runs (PID_MAX_LIMIT is 4M, but lists that long are garbage here). */
export const MAX_TASKS = 1 << 17
const PID_MAX_LIMIT = 1 << 22
/** PF_KTHREAD: the task is a kernel thread (include/linux/sched.h). */
export const PF_KTHREAD = 0x00200000

export class TaskFields {
  readonly layout: StructLayout
  readonly tasksOffset: number
  readonly stateField: string
  readonly startField: string
  readonly spanBytes: number
  readonly tgidSpanBytes: number
  readonly tgidOffset: number

  constructor(kernel: KernelContext) {
    const layout = kernel.btf.struct('task_struct')
    this.layout = layout
    this.tasksOffset = layout.field('tasks').offsetBytes
    this.stateField = layout.firstField('__state', 'state').path
    this.startField = layout.firstField('start_boottime', 'real_start_time', 'start_time').path
    const fields = ['tasks', 'pid', 'tgid', 'comm', 'real_parent', this.stateField, 'exit_state', 'flags', 'mm', 'real_cred', 'signal', this.startField]
    this.spanBytes = Math.max(...fields.map((f) => { const x = layout.field(f); return x.offsetBytes + x.sizeBytes }))
    const tgid = layout.field('tgid')
    this.tgidSpanBytes = tgid.offsetBytes + tgid.sizeBytes
    this.tgidOffset = tgid.offsetBytes
  }
}

/** A task record from a read task_struct prefix; the parent is still a pointer (its tgid is read separately). */
export function taskFromView(fields: TaskFields, view: StructView, addr: bigint): Omit<TaskRecord, 'ppid'> & { realParent: bigint } {
  return {
    addr,
    pid: view.i32('pid'),
    tgid: view.i32('tgid'),
    comm: view.cstring('comm'),
    realParent: view.ptr('real_parent'),
    state: Number(view.uint(fields.stateField) & 0xffffffffn),
    exitState: view.i32('exit_state'),
    flags: Number(view.uint('flags') & 0xffffffffn),
    mm: view.ptr('mm'),
    realCred: view.ptr('real_cred'),
    signal: view.ptr('signal'),
    startTime: view.u64(fields.startField),
  }
}

async function readTask(kernel: KernelContext, fields: TaskFields, addr: bigint, reachedFrom: string): Promise<StructView> {
  const [view] = await readStructs(kernel.kmem, [virtAddr(addr)], fields.layout, fields.spanBytes)
  if (view === undefined || view instanceof MemweaveError) {
    throw new MemweaveError('os', 'malformed', `task list: cannot read task_struct at ${hex(addr)} (${reachedFrom})`, { cause: view })
  }
  return view
}

/** Every thread-group leader except the idle task (pid 0), sorted by pid. */
export async function walkTasks(kernel: KernelContext, fields: TaskFields): Promise<TaskRecord[]> {
  const head = kernel.symbols.addr('init_task')
  const visited = new Set<bigint>([head])
  const found: (Omit<TaskRecord, 'ppid'> & { realParent: bigint })[] = []
  let view = await readTask(kernel, fields, head, 'init_task')
  for (;;) {
    const link = view.ptr('tasks.next')
    const next = link - BigInt(fields.tasksOffset)
    if (next === head) break
    const from = `after ${found.length} tasks, linked from ${hex(view.addr ?? 0n)}`
    if (!isKernelPointer(kernel, link)) throw new MemweaveError('os', 'malformed', `task list: tasks.next ${hex(link)} is not a kernel pointer (${from})`)
    if (visited.has(next)) throw new MemweaveError('os', 'malformed', `task list: cycle at task ${hex(next)} that does not return to init_task (${from})`)
    if (found.length >= MAX_TASKS) throw new MemweaveError('os', 'limit', `task list: more than ${MAX_TASKS} tasks (corrupt list?)`)
    visited.add(next)
    view = await readTask(kernel, fields, next, from)
    const record = taskFromView(fields, view, next)
    if (record.pid <= 0 || record.pid >= PID_MAX_LIMIT || record.tgid <= 0 || record.tgid >= PID_MAX_LIMIT) {
      throw new MemweaveError('os', 'malformed', `task list: task_struct at ${hex(next)} has implausible pid ${record.pid}/tgid ${record.tgid} (${from})`)
    }
    found.push(record)
  }
  const tgidByTask = new Map<bigint, number>([[head, 0], ...found.map((t): [bigint, number] => [t.addr, t.tgid])])
  const unknown = [...new Set(found.map((t) => t.realParent).filter((p) => !tgidByTask.has(p) && isKernelPointer(kernel, p)))]
  const parents = await readStructs(kernel.kmem, unknown.map((p) => virtAddr(p)), fields.layout, fields.tgidSpanBytes)
  parents.forEach((parent, i) => {
    const addr = unknown[i]
    if (addr !== undefined && !(parent instanceof MemweaveError)) tgidByTask.set(addr, parent.i32('tgid'))
  })
  return found
    .map(({ realParent, ...task }) => ({ ...task, ppid: tgidByTask.get(realParent) ?? 0 }))
    .sort((a, b) => a.pid - b.pid)
}
