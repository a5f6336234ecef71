/**
 * Per-process details beyond the task list, read in batches for any number
 * of tasks: the real credentials' uid, the thread count (signal->nr_threads),
 * and the mm fields that locate page tables, arguments, environment, heap,
 * stack, executable and the VMA tree. Argument and environment areas are
 * NUL-separated strings in the process's own memory.
 */
import { MemweaveError } from '../../errors/index.js'
import { hex, virtAddr } from '../../mem/index.js'
import type { VirtualMemory } from '../../mem/index.js'
import { readStructs } from './btf/index.js'
import type { StructView } from './btf/index.js'
import { isKernelPointer } from './kernel-context.js'
import type { KernelContext } from './kernel-context.js'
import { PF_KTHREAD } from './task-list.js'
import type { TaskRecord } from './task-list.js'

export interface MmRecord {
  readonly addr: bigint
  readonly pgd: bigint
  readonly argStart: bigint
  readonly argEnd: bigint
  readonly envStart: bigint
  readonly envEnd: bigint
  readonly startBrk: bigint
  readonly brk: bigint
  readonly startStack: bigint
  readonly exeFile: bigint
  readonly mapleRoot: bigint
}

export interface TaskDetails {
  readonly uid: number
  readonly threads: number
  readonly mm: MmRecord | undefined
  /** Pointers of the task that lead nowhere (a user task whose mm cannot be read, …); empty when whole. */
  readonly damage: readonly string[]
}

/** /proc/PID/cmdline and environ are bounded reads too; larger areas are cut. */
export const MAX_ARG_AREA_BYTES = 1 << 20

async function readByAddr<T>(kernel: KernelContext, addrs: readonly bigint[], struct: string, pick: (view: StructView, addr: bigint) => T): Promise<Map<bigint, T>> {
  const unique = [...new Set(addrs)].filter((a) => isKernelPointer(kernel, a))
  const views = await readStructs(kernel.kmem, unique.map((a) => virtAddr(a)), kernel.btf.struct(struct))
  const out = new Map<bigint, T>()
  views.forEach((view, i) => {
    const addr = unique[i]
    if (addr !== undefined && !(view instanceof MemweaveError)) out.set(addr, pick(view, addr))
  })
  return out
}

export async function readTaskDetails(kernel: KernelContext, tasks: readonly TaskRecord[]): Promise<TaskDetails[]> {
  const [uids, threads, mms] = await Promise.all([
    readByAddr(kernel, tasks.map((t) => t.realCred), 'cred', (v) => v.u32('uid.val')),
    readByAddr(kernel, tasks.map((t) => t.signal), 'signal_struct', (v) => v.i32('nr_threads')),
    readByAddr(kernel, tasks.map((t) => t.mm), 'mm_struct', (v, addr): MmRecord => ({
      addr,
      pgd: v.ptr('pgd'),
      argStart: v.u64('arg_start'),
      argEnd: v.u64('arg_end'),
      envStart: v.u64('env_start'),
      envEnd: v.u64('env_end'),
      startBrk: v.u64('start_brk'),
      brk: v.u64('brk'),
      startStack: v.u64('start_stack'),
      exeFile: v.ptr('exe_file'),
      mapleRoot: v.ptr('mm_mt.ma_root'),
    })),
  ])
  // A kernel thread may borrow a user mm (kthread_use_mm); /proc shows it without one, as get_task_mm() does.
  const ownMm = (t: TaskRecord): MmRecord | undefined => (t.mm === 0n || (t.flags & PF_KTHREAD) !== 0 ? undefined : mms.get(t.mm))
  return tasks.map((t) => {
    const damage: string[] = []
    if (t.mm !== 0n && (t.flags & PF_KTHREAD) === 0 && !mms.has(t.mm)) damage.push(`mm ${hex(t.mm)} cannot be read (no memory, maps or arguments)`)
    if (!uids.has(t.realCred)) damage.push(`real_cred ${hex(t.realCred)} cannot be read (uid unknown)`)
    if (!threads.has(t.signal)) damage.push(`signal ${hex(t.signal)} cannot be read (thread count unknown)`)
    return { uid: uids.get(t.realCred) ?? 0, threads: threads.get(t.signal) ?? 1, mm: ownMm(t), damage }
  })
}

/** NUL-separated strings of [start, end) in a process's memory; a final unterminated string is kept. */
export async function readStringArea(mem: VirtualMemory, start: bigint, end: bigint): Promise<string[]> {
  if (end <= start) return []
  const length = Number(end - start > BigInt(MAX_ARG_AREA_BYTES) ? BigInt(MAX_ARG_AREA_BYTES) : end - start)
  const [result] = await mem.read([{ addr: virtAddr(start), length }])
  if (result === undefined || !result.ok) {
    throw new MemweaveError('os', 'unmapped', `cannot read the argument area at 0x${start.toString(16)} (${length} bytes)`, { cause: result?.ok === false ? result.error : undefined })
  }
  const parts = Buffer.from(result.data).toString('utf8').split('\0')
  if (parts[parts.length - 1] === '') parts.pop()
  return parts
}

/** KEY=VALUE strings to a record (the first '=' splits; a string without '=' maps to ''). */
export function environFromStrings(strings: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const s of strings) {
    if (s === '') continue
    const eq = s.indexOf('=')
    if (eq < 0) out[s] = ''
    else out[s.slice(0, eq)] = s.slice(eq + 1)
  }
  return out
}
