/**
 * The kernel's process list: init_task.tasks links every thread-group leader
 * (threads are not on it). Each step reads the next task_struct (only the
 * prefix holding the fields we use) and follows tasks.next back through
 * container_of. Parents' tgids (real_parent may be any thread) come in one
 * batched read afterwards.
 *
 * A damaged list still gives what it can (partial results, never all-or-nothing):
 *
 *   init_task ─next─▶ A ─next─▶ B ─next─✗ (not a kernel pointer, unreadable,
 *       │                                   its prev does not point back, a cycle)
 *       └─prev─▶ Z ─prev─▶ Y ─prev─▶ … until a task already seen, or another break
 *
 * The forward walk stops at the first broken link; the rest is read backwards
 * from init_task through tasks.prev. Every break is a warning (os info), and the
 * task at it carries the damage (process info, ps). A task whose pid is
 * garbage or taken is left out with a warning; a comm that is not text is
 * shown escaped and flagged. Both walks share a visited set and MAX_TASKS, so
 * a cycle or an endless list stops.
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
  /** What looked corrupt about this task or its links (empty or absent when it is whole). */
  readonly damage?: readonly string[]
}

/** The list as read: the tasks found and what was broken (empty for a whole list). */
export interface TaskWalk {
  readonly tasks: TaskRecord[]
  readonly warnings: string[]
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

const strictUtf8 = new TextDecoder('utf-8', { fatal: true })

/** The comm bytes up to their NUL, and why they are not what the kernel writes (UTF-8 text without control bytes; PR_SET_NAME may leave it empty), if so. */
function commOf(view: StructView): { bytes: Uint8Array; damage: string | undefined } {
  const raw = view.bytes('comm')
  const end = raw.indexOf(0)
  const bytes = end < 0 ? raw : raw.subarray(0, end)
  if (end < 0) return { bytes, damage: `comm is not NUL-terminated within ${raw.length} bytes` }
  if (bytes.some((b) => b < 0x20 || b === 0x7f)) return { bytes, damage: 'comm holds control bytes' }
  try {
    strictUtf8.decode(bytes)
  } catch {
    return { bytes, damage: 'comm is not UTF-8 text' }
  }
  return { bytes, damage: undefined }
}

/** comm as text; a damaged one keeps its printable ASCII and shows other bytes as \\xNN (one line, one tree name). */
function commText(view: StructView): string {
  const { bytes, damage } = commOf(view)
  if (damage === undefined) return strictUtf8.decode(bytes)
  let out = ''
  for (const byte of bytes) out += byte >= 0x20 && byte < 0x7f && byte !== 0x5c ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, '0')}`
  return out
}

/** A task record from a read task_struct prefix; the parent is still a pointer (its tgid is read separately). */
export function taskFromView(fields: TaskFields, view: StructView, addr: bigint): Omit<TaskRecord, 'ppid'> & { realParent: bigint } {
  return {
    addr,
    pid: view.i32('pid'),
    tgid: view.i32('tgid'),
    comm: commText(view),
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

async function readTaskAt(kernel: KernelContext, fields: TaskFields, addr: bigint): Promise<StructView | undefined> {
  const [view] = await readStructs(kernel.kmem, [virtAddr(addr)], fields.layout, fields.spanBytes)
  return view === undefined || view instanceof MemweaveError ? undefined : view
}

type Found = Omit<TaskRecord, 'ppid'> & { realParent: bigint }
type Direction = 'next' | 'prev'

/** One direction of the walk: it stops at init_task, at a task already seen, or at a break (then `broken` says why). */
interface Leg { readonly found: Found[]; readonly broken?: { readonly at: bigint; readonly link: string; readonly why: string; readonly text: string } }

function describeTask(addr: bigint, found: Found | undefined): string {
  return found === undefined ? `init_task` : `task ${found.pid} (${found.comm}) at ${hex(addr)}`
}

/**
 * Follows `direction` links from init_task. A step is taken only if the link is
 * a kernel pointer, the task it leads to can be read, and that task's opposite
 * link points back (the kernel's own list check), so a garbage pointer into
 * readable memory stops the leg instead of yielding garbage tasks.
 */
async function walkLeg(kernel: KernelContext, fields: TaskFields, head: StructView, headAddr: bigint, direction: Direction, visited: Set<bigint>, budget: { left: number }): Promise<Leg> {
  const offset = BigInt(fields.tasksOffset)
  const back: Direction = direction === 'next' ? 'prev' : 'next'
  const found: Found[] = []
  let view = head
  let addr = headAddr
  let current: Found | undefined
  const stop = (why: string): Leg => ({ found, broken: { at: addr, link: `tasks.${direction}`, why, text: `tasks.${direction} of ${describeTask(addr, current)} ${why}` } })
  for (;;) {
    const link = view.ptr(`tasks.${direction}`)
    const next = link - offset
    if (next === headAddr || (visited.has(next) && direction === 'prev')) return { found }
    if (!isKernelPointer(kernel, link)) return stop(`is ${hex(link)}, not a kernel pointer`)
    if (visited.has(next)) return stop(`leads back to ${hex(next)}, a task already listed (a cycle that does not return to init_task)`)
    if (budget.left <= 0) return stop(`leads past ${MAX_TASKS} tasks (a corrupt list?)`)
    const nextView = await readTaskAt(kernel, fields, next)
    if (nextView === undefined) return stop(`points to ${hex(next)}, which cannot be read`)
    // A task being unlinked on a live guest (list_del_rcu poisons its prev) still leads on through next; its successor points back past it.
    const unlinking = direction === 'next' && current !== undefined && !isKernelPointer(kernel, view.ptr('tasks.prev'))
    if (!unlinking && nextView.ptr(`tasks.${back}`) !== addr + offset) return stop(`points to ${hex(next)}, whose tasks.${back} does not point back`)
    visited.add(next)
    budget.left--
    view = nextView
    addr = next
    current = taskFromView(fields, view, next)
    const comm = commOf(view).damage
    found.push(comm === undefined ? current : { ...current, damage: [comm] })
  }
}

/** Adds a damage note to the task at addr (if listed). */
function markDamaged(found: Found[], addr: bigint, note: string): void {
  const i = found.findIndex((t) => t.addr === addr)
  const task = found[i]
  if (task !== undefined) found[i] = { ...task, damage: [...(task.damage ?? []), note] }
}

/** Every thread-group leader except the idle task (pid 0), sorted by pid, and what was broken on the way. */
export async function readTaskList(kernel: KernelContext, fields: TaskFields): Promise<TaskWalk> {
  const head = kernel.symbols.addr('init_task')
  const headView = await readTaskAt(kernel, fields, head)
  if (headView === undefined) throw new MemweaveError('os', 'malformed', `task list: cannot read init_task at ${hex(head)}`)
  const visited = new Set<bigint>([head])
  const budget = { left: MAX_TASKS }
  const warnings: string[] = []
  const forward = await walkLeg(kernel, fields, headView, head, 'next', visited, budget)
  let all = forward.found
  if (forward.broken !== undefined) {
    markDamaged(all, forward.broken.at, `its ${forward.broken.link} ${forward.broken.why}`)
    const backward = await walkLeg(kernel, fields, headView, head, 'prev', visited, budget)
    const rest = backward.broken === undefined ? `the other ${backward.found.length} were read backwards from init_task`
      : `${backward.found.length} more were read backwards from init_task until ${backward.broken.text}; tasks between may be missing`
    warnings.push(`task list: ${forward.broken.text}; ${forward.found.length} tasks were read forwards, ${rest}`)
    if (backward.broken !== undefined) markDamaged(backward.found, backward.broken.at, `its ${backward.broken.link} ${backward.broken.why}`)
    all = [...all, ...backward.found]
  }
  const byPid = new Map<number, Found>()
  const kept: Found[] = []
  for (const task of all) {
    const where = `task_struct at ${hex(task.addr)} (comm '${task.comm}')`
    if (task.pid <= 0 || task.pid >= PID_MAX_LIMIT || task.tgid !== task.pid) {
      warnings.push(`task list: ${where} has implausible pid ${task.pid}/tgid ${task.tgid} (a thread-group leader has pid = tgid in 1..${PID_MAX_LIMIT - 1}); left out`)
      continue
    }
    const first = byPid.get(task.pid)
    if (first !== undefined) {
      warnings.push(`task list: ${where} has pid ${task.pid}, already taken by the task_struct at ${hex(first.addr)}; left out`)
      markDamaged(kept, first.addr, `another task_struct on the list (${hex(task.addr)}) claims its pid`)
      continue
    }
    byPid.set(task.pid, task)
    kept.push(task)
  }
  for (const task of kept) if (task.damage !== undefined && !warnings.some((w) => w.includes(hex(task.addr)))) warnings.push(`task list: task ${task.pid} at ${hex(task.addr)}: ${task.damage.join('; ')}`)
  const tgidByTask = new Map<bigint, number>([[head, 0], ...kept.map((t): [bigint, number] => [t.addr, t.tgid])])
  const unknown = [...new Set(kept.map((t) => t.realParent).filter((p) => !tgidByTask.has(p) && isKernelPointer(kernel, p)))]
  const parents = await readStructs(kernel.kmem, unknown.map((p) => virtAddr(p)), fields.layout, fields.tgidSpanBytes)
  parents.forEach((parent, i) => {
    const addr = unknown[i]
    if (addr !== undefined && !(parent instanceof MemweaveError)) tgidByTask.set(addr, parent.i32('tgid'))
  })
  const tasks = kept
    .map(({ realParent, ...task }) => ({ ...task, ppid: tgidByTask.get(realParent) ?? 0 }))
    .sort((a, b) => a.pid - b.pid)
  return { tasks, warnings }
}

/** The tasks readTaskList finds (its warnings dropped). */
export async function walkTasks(kernel: KernelContext, fields: TaskFields): Promise<TaskRecord[]> {
  return (await readTaskList(kernel, fields)).tasks
}
