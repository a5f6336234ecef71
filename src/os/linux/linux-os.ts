/**
 * A Linux guest as an OsInstance: the kernel opened from memory (see
 * linux-open.ts), its task list, processes, kernel modules and the kernel
 * address space.
 *
 * Dumps never change, so everything is read once. On a live source
 * (metadata().volatile) listings must match the guest now:
 *   processes()   walks the task list on every call (concurrent calls share one walk)
 *   process(pid)  may reuse a walk up to LIVE_CACHE_MS old, but re-reads the task
 *                 it finds (task-check.ts) and walks afresh on a miss or a dead task
 *   lifetimes     a process's check re-reads its task on handle access (a positive
 *                 answer stands LIVE_CHECK_REUSE_MS): exit, pid reuse, exec show at once
 *   new process   drops the shared page-table cache (the tables of processes that
 *                 exited may have become its tables)
 *   refresh()     drops listings and every translation cache now
 * Page-table pages and translations otherwise expire after LIVE_CACHE_MS (arch).
 */
import { LIVE_CACHE_MS } from '../../arch/index.js'
import type { ElfNote } from '../../connectors/index.js'
import { MemweaveError } from '../../errors/index.js'
import { virtAddr } from '../../mem/index.js'
import type { VirtualMemory } from '../../mem/index.js'
import { Lifetime } from '../../tree/index.js'
import type { MapEntry, ModuleInfo, OsInstance, OsProcess, ProcessRef } from '../os-model.js'
import { WindowMemory } from '../window-memory.js'
import { PathResolver } from './dentry-path.js'
import type { KernelContext } from './kernel-context.js'
import { readKernelModules } from './kernel-modules.js'
import { LinuxProcess } from './linux-process.js'
import type { ProcessServices } from './linux-process.js'
import { checkTask } from './task-check.js'
import type { TaskCheck } from './task-check.js'
import { readTaskDetails } from './task-details.js'
import type { TaskDetails } from './task-details.js'
import { readTaskList, TaskFields } from './task-list.js'
import type { TaskRecord, TaskWalk } from './task-list.js'
import { readVcpuStates } from './vcpu-registers.js'
import type { VcpuState } from './vcpu-registers.js'
import { VmaLayouts } from './vmas.js'
import { readGateEntry } from './vsyscall-gate.js'

interface Cached<T> { readonly value: Promise<T>; readonly at: number }
interface Walk extends Cached<TaskRecord[]> { settled: boolean }

/** A walk of a list the guest is changing can step onto a task being freed: it is tried this often before failing or reporting damage. */
const LIVE_WALK_TRIES = 3

/** Same task_struct, same start, same mm and name: after exec (new mm) it is a new object with its own handles. */
function taskKey(task: TaskRecord): string {
  return `${task.addr.toString(16)}:${task.startTime}:${task.mm.toString(16)}:${task.comm}`
}

export class LinuxOs implements OsInstance, ProcessServices {
  readonly kind = 'linux'
  readonly lifetime: Lifetime
  readonly kernelMemory: VirtualMemory
  readonly kernelAddressSpaceBytes: bigint
  readonly volatile: boolean
  private readonly taskFields: TaskFields
  private layouts: VmaLayouts | undefined
  private sharedResolver: PathResolver | undefined
  private tasks: Walk | undefined
  private modules: Cached<ModuleInfo[]> | undefined
  private gate: Promise<MapEntry | undefined> | undefined
  private vcpus: Promise<VcpuState[]> | undefined
  /** One object per task (see taskKey), so each keeps one lifetime however often it is looked up. */
  private readonly processByKey = new Map<string, LinuxProcess>()
  /** What the latest finished walk found broken in the task list (os info `warnings`). */
  private walkWarnings: readonly string[]

  constructor(readonly kernel: KernelContext, private readonly facts: Record<string, unknown>, private readonly timingsMs: Record<string, number>,
    description: string, parent: Lifetime, initial: TaskWalk, private readonly cpuNotes: readonly ElfNote[] = []) {
    this.lifetime = new Lifetime(description, parent)
    this.kernelMemory = kernel.kmem
    // Kernel addresses live in the upper canonical half, so kmem spans all of 0..2^64.
    this.kernelAddressSpaceBytes = 1n << 64n
    this.volatile = kernel.mem.metadata().volatile
    this.taskFields = new TaskFields(kernel)
    this.tasks = { value: Promise.resolve(initial.tasks), at: performance.now(), settled: true }
    this.walkWarnings = initial.warnings
  }

  static async taskListAtOpen(kernel: KernelContext): Promise<TaskWalk> {
    return readTaskList(kernel, new TaskFields(kernel))
  }

  /** Facts found at open, with the damage the latest task-list walk reported added to `warnings`. */
  async info(): Promise<Record<string, unknown>> {
    const opened = Array.isArray(this.facts['warnings']) ? this.facts['warnings'] : []
    return { kind: this.kind, ...this.facts, warnings: [...opened, ...this.walkWarnings], timingsMs: this.timingsMs }
  }

  private fresh<T>(cached: Cached<T> | undefined): cached is Cached<T> {
    return cached !== undefined && (!this.volatile || performance.now() - cached.at < LIVE_CACHE_MS)
  }

  /**
   * The task list, from a walk started at most maxAgeMs ago (dumps: any walk);
   * a walk still running is shared whatever its age.
   */
  private taskList(maxAgeMs: number): Walk {
    const cached = this.tasks
    if (cached !== undefined && (!this.volatile || !cached.settled || performance.now() - cached.at <= maxAgeMs)) return cached
    const walk: Walk = { value: this.walkRetrying().then((tasks) => this.forgetExited(tasks)), at: performance.now(), settled: false }
    this.tasks = walk
    walk.value.then(() => { walk.settled = true }, () => {
      // A failed walk is not cached: the next call tries again.
      if (this.tasks === walk) this.tasks = undefined
    })
    return walk
  }

  /** A live list that looks broken may only be changing under us: walked again before its damage is believed. */
  private async walkRetrying(): Promise<TaskRecord[]> {
    for (let attempt = 1; ; attempt++) {
      let walk: TaskWalk
      try {
        walk = await readTaskList(this.kernel, this.taskFields)
      } catch (err) {
        if (!this.volatile || attempt >= LIVE_WALK_TRIES || !(err instanceof MemweaveError) || err.kind !== 'malformed') throw err
        continue
      }
      if (walk.warnings.length === 0 || !this.volatile || attempt >= LIVE_WALK_TRIES) {
        this.walkWarnings = walk.warnings
        return walk.tasks
      }
    }
  }

  async processes(): Promise<ProcessRef[]> {
    await this.lifetime.ensureAlive('os')
    return (await this.taskList(0).value).map((t) => ({ pid: t.pid, ppid: t.ppid, name: t.comm, startTime: t.startTime }))
  }

  async process(pid: number): Promise<OsProcess | undefined> {
    await this.lifetime.ensureAlive('os')
    const asked = performance.now()
    const reused = this.taskList(LIVE_CACHE_MS)
    let task = (await reused.value).find((t) => t.pid === pid)
    // A live lookup trusts no listing: a missing pid may have started since, a listed task may be gone.
    if (this.volatile && reused.at < asked && (task === undefined || !(await this.checkTask(task)).alive)) {
      task = (await this.taskList(0).value).find((t) => t.pid === pid)
    }
    if (task === undefined) return undefined
    const key = taskKey(task)
    const known = this.processByKey.get(key)
    if (known !== undefined) return known
    const [details] = await readTaskDetails(this.kernel, [task])
    if (details === undefined) return undefined
    // The page-table pages of processes that exited may now be this one's: cached copies must not be used for it.
    if (this.volatile) this.kernel.tableCache.invalidate()
    const process = new LinuxProcess(this, task, details)
    this.processByKey.set(key, process)
    return process
  }

  /**
   * Ends the lifetimes of processes that left the task list and drops them.
   * On a live guest a walk can miss a task that is still there, so each is re-read first.
   */
  private async forgetExited(tasks: TaskRecord[]): Promise<TaskRecord[]> {
    const present = new Set(tasks.map(taskKey))
    const missing = [...this.processByKey].filter(([key]) => !present.has(key))
    const checks = await Promise.all(missing.map(([, process]): Promise<TaskCheck> =>
      this.volatile ? this.checkTask(process.task) : Promise.resolve({ alive: false, reason: 'has exited or replaced its program' })))
    missing.forEach(([key, process], i) => {
      const check = checks[i]
      if (check === undefined || check.alive) return
      process.lifetime.end(check.reason)
      this.processByKey.delete(key)
    })
    return tasks
  }

  /** Re-reads a task: its current record, or why it is gone (exited, pid reused, exec). */
  checkTask(task: TaskRecord): Promise<TaskCheck> {
    return checkTask(this.kernel, this.taskFields, task)
  }

  /** Fresh details for a task (a live process's mm fields move: brk, stack). */
  async taskDetails(task: TaskRecord): Promise<TaskDetails | undefined> {
    const [details] = await readTaskDetails(this.kernel, [task])
    return details
  }

  vmaLayouts(): VmaLayouts {
    this.layouts ??= new VmaLayouts(this.kernel)
    return this.layouts
  }

  pathResolver(): PathResolver {
    // Dentries of a dump never change; a live guest's may, so each use gets a fresh cache.
    if (this.volatile) return new PathResolver(this.kernel)
    this.sharedResolver ??= new PathResolver(this.kernel)
    return this.sharedResolver
  }

  gateEntry(): Promise<MapEntry | undefined> {
    this.gate ??= readGateEntry(this.kernel)
    return this.gate
  }

  /** A dump's CPU notes never change; a live guest's CPUs are not in notes, so it has none. */
  vcpuStates(): Promise<VcpuState[]> {
    if (this.cpuNotes.length === 0) return Promise.resolve([])
    this.vcpus ??= readVcpuStates(this.kernel, this.cpuNotes)
    return this.vcpus
  }

  async kernelModules(): Promise<ModuleInfo[]> {
    await this.lifetime.ensureAlive('os')
    if (!this.fresh(this.modules)) {
      const value = readKernelModules(this.kernel)
      this.modules = { value, at: performance.now() }
      value.catch(() => { if (this.modules?.value === value) this.modules = undefined })
    }
    return this.modules.value
  }

  kernelModuleMemory(module: ModuleInfo): VirtualMemory {
    return new WindowMemory(this.kernel.kmem, virtAddr(module.base), module.sizeBytes)
  }

  refresh(): void {
    this.tasks = undefined
    this.modules = undefined
    this.gate = undefined
    if (!this.volatile) return
    this.kernel.kmem.invalidate()
    for (const process of this.processByKey.values()) process.invalidateCaches()
  }

  async close(): Promise<void> {
    this.lifetime.end('was closed')
  }
}
