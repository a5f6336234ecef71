/**
 * A Linux guest as an OsInstance: the kernel opened from memory (see
 * linux-open.ts), its task list (cached for dumps, briefly for live
 * sources), processes, kernel modules and the kernel address space.
 */
import { addressSpaceBytes, LIVE_CACHE_MS } from '../../arch/index.js'
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
import { readTaskDetails } from './task-details.js'
import type { TaskDetails } from './task-details.js'
import { TaskFields, walkTasks } from './task-list.js'
import type { TaskRecord } from './task-list.js'
import { VmaLayouts } from './vmas.js'
import { readGateEntry } from './vsyscall-gate.js'

interface Cached<T> { readonly value: Promise<T>; readonly at: number }

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
  private tasks: Cached<TaskRecord[]> | undefined
  private modules: Cached<ModuleInfo[]> | undefined
  private gate: Promise<MapEntry | undefined> | undefined
  /** One object per task (see taskKey), so each keeps one lifetime however often it is looked up. */
  private readonly processByKey = new Map<string, LinuxProcess>()

  constructor(readonly kernel: KernelContext, private readonly facts: Record<string, unknown>, private readonly timingsMs: Record<string, number>,
    description: string, parent: Lifetime, initialTasks: TaskRecord[]) {
    this.lifetime = new Lifetime(description, parent)
    this.kernelMemory = kernel.kmem
    this.kernelAddressSpaceBytes = addressSpaceBytes(kernel.mode)
    this.volatile = kernel.mem.metadata().volatile
    this.taskFields = new TaskFields(kernel)
    this.tasks = { value: Promise.resolve(initialTasks), at: performance.now() }
  }

  static async taskListAtOpen(kernel: KernelContext): Promise<TaskRecord[]> {
    return walkTasks(kernel, new TaskFields(kernel))
  }

  async info(): Promise<Record<string, unknown>> {
    return { kind: this.kind, ...this.facts, timingsMs: this.timingsMs }
  }

  private fresh<T>(cached: Cached<T> | undefined): cached is Cached<T> {
    return cached !== undefined && (!this.volatile || performance.now() - cached.at < LIVE_CACHE_MS)
  }

  taskList(): Promise<TaskRecord[]> {
    if (!this.fresh(this.tasks)) {
      const value = walkTasks(this.kernel, this.taskFields).then((tasks) => this.forgetExited(tasks))
      this.tasks = { value, at: performance.now() }
      // A failed walk is not cached: the next call tries again.
      value.catch(() => { if (this.tasks?.value === value) this.tasks = undefined })
    }
    return this.tasks.value
  }

  async processes(): Promise<ProcessRef[]> {
    await this.lifetime.ensureAlive('os')
    return (await this.taskList()).map((t) => ({ pid: t.pid, ppid: t.ppid, name: t.comm, startTime: t.startTime }))
  }

  async process(pid: number): Promise<OsProcess | undefined> {
    await this.lifetime.ensureAlive('os')
    const task = (await this.taskList()).find((t) => t.pid === pid)
    if (task === undefined) return undefined
    const key = taskKey(task)
    const known = this.processByKey.get(key)
    if (known !== undefined) return known
    const [details] = await readTaskDetails(this.kernel, [task])
    if (details === undefined) return undefined
    const process = new LinuxProcess(this, task, details)
    this.processByKey.set(key, process)
    return process
  }

  /** Ends the lifetimes of processes that left the task list and drops them. */
  private forgetExited(tasks: TaskRecord[]): TaskRecord[] {
    const present = new Set(tasks.map(taskKey))
    for (const [key, process] of this.processByKey) {
      if (present.has(key)) continue
      process.lifetime.end('has exited or replaced its program')
      this.processByKey.delete(key)
    }
    return tasks
  }

  /** Fresh details for a task (a live process's mm fields move: brk, stack). */
  async taskDetails(task: TaskRecord): Promise<TaskDetails | undefined> {
    const [details] = await readTaskDetails(this.kernel, [task])
    return details
  }

  async stillRunning(task: TaskRecord): Promise<boolean> {
    return (await this.currentTask(task)) !== undefined
  }

  /** The task's record in the current list (state and parent move on a live guest). */
  async currentTask(task: TaskRecord): Promise<TaskRecord | undefined> {
    const key = taskKey(task)
    return (await this.taskList()).find((t) => taskKey(t) === key)
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
    if (this.volatile) this.kernel.kmem.invalidate()
  }

  async close(): Promise<void> {
    this.lifetime.end('was closed')
  }
}
