/**
 * The threads of one thread group. Newer kernels link them on
 * signal->thread_head through task_struct.thread_node; older ones (before
 * 6.7 both exist) in a ring through task_struct.thread_group. Each step
 * reads one whole task_struct (the thread state sits at its end), bounded
 * against cycles and garbage like the task list walk.
 */
import { MemweaveError } from '../../errors/index.js'
import { hex, readU64, virtAddr } from '../../mem/index.js'
import { readStructs } from './btf/index.js'
import type { StructView } from './btf/index.js'
import { isKernelPointer } from './kernel-context.js'
import type { KernelContext } from './kernel-context.js'
import type { TaskRecord } from './task-list.js'

/** Far above any real thread group here; a longer ring is garbage. */
export const MAX_THREADS = 1 << 14

export interface ThreadTask {
  readonly addr: bigint
  readonly view: StructView
}

async function readTaskView(kernel: KernelContext, addr: bigint, what: string): Promise<StructView> {
  const layout = kernel.btf.struct('task_struct')
  const [view] = await readStructs(kernel.kmem, [virtAddr(addr)], layout)
  if (view === undefined || view instanceof MemweaveError) {
    throw new MemweaveError('os', 'malformed', `threads: cannot read task_struct at ${hex(addr)} (${what})`, { cause: view })
  }
  return view
}

/**
 * Every thread of the group led by leader, the leader first. A broken link
 * ends the walk with the threads found so far and a warning, never a throw:
 * the leader itself is always there.
 */
export async function readThreadTasks(kernel: KernelContext, leader: TaskRecord): Promise<{ threads: ThreadTask[]; warnings: string[] }> {
  const layout = kernel.btf.struct('task_struct')
  const leaderView = await readTaskView(kernel, leader.addr, `leader ${leader.pid}`)
  const threads: ThreadTask[] = [{ addr: leader.addr, view: leaderView }]
  const warnings: string[] = []
  const seen = new Set<bigint>([leader.addr])
  let link: bigint
  let head: bigint
  let linkOffset: bigint
  let nextField: string
  if (layout.has('thread_node') && kernel.btf.struct('signal_struct').has('thread_head') && isKernelPointer(kernel, leader.signal)) {
    linkOffset = BigInt(layout.field('thread_node').offsetBytes)
    head = leader.signal + BigInt(kernel.btf.struct('signal_struct').field('thread_head').offsetBytes)
    nextField = 'thread_node.next'
    link = await readU64(kernel.kmem, virtAddr(head)).catch(() => head)
  } else if (layout.has('thread_group')) {
    linkOffset = BigInt(layout.field('thread_group').offsetBytes)
    head = leader.addr + linkOffset
    nextField = 'thread_group.next'
    link = leaderView.ptr(nextField)
  } else {
    return { threads, warnings: ['this kernel links threads in neither signal->thread_head nor task_struct.thread_group'] }
  }
  while (link !== head) {
    if (!isKernelPointer(kernel, link)) { warnings.push(`thread list: link ${hex(link)} is not a kernel pointer; ${threads.length} threads read`); break }
    const task = link - linkOffset
    if (threads.length >= MAX_THREADS) { warnings.push(`thread list: more than ${MAX_THREADS} threads; the rest are left out`); break }
    if (seen.has(task)) {
      if (task !== leader.addr) warnings.push(`thread list: cycle at ${hex(task)}`)
      // The leader is on signal->thread_head too: skip it, but keep walking.
      if (task !== leader.addr) break
      link = leaderView.ptr(nextField)
      continue
    }
    seen.add(task)
    let view: StructView
    try {
      view = await readTaskView(kernel, task, `thread of ${leader.pid}`)
    } catch (err) {
      warnings.push(err instanceof Error ? err.message : String(err))
      break
    }
    if (view.i32('tgid') !== leader.tgid) { warnings.push(`thread list: task ${hex(task)} has tgid ${view.i32('tgid')}, not ${leader.tgid}`); break }
    threads.push({ addr: task, view })
    link = view.ptr(nextField)
  }
  return { threads, warnings }
}
