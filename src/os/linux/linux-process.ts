/**
 * One guest process (thread group) as an OsProcess: its address space from
 * mm->pgd, /proc-style info, maps from the VMA tree, mapped ELF images and
 * the environment. Kernel threads have no mm: their memory is the kernel's
 * address space and they have no maps, arguments or environment.
 */
import { VirtualAddressSpace, addressSpaceBytes, walkMappings } from '../../arch/index.js'
import { physAddr, virtAddr } from '../../mem/index.js'
import type { PhysAddr, VirtualMemory } from '../../mem/index.js'
import { Lifetime } from '../../tree/index.js'
import { findElfImages } from '../elf-images.js'
import type { MapEntry, ModuleInfo, OsProcess, PhysMapEntry, ProcessInfo, ProcessRef } from '../os-model.js'
import type { PathResolver } from './dentry-path.js'
import { directMapToPhys } from './kernel-context.js'
import type { KernelContext } from './kernel-context.js'
import { PF_KTHREAD } from './task-list.js'
import type { TaskRecord } from './task-list.js'
import { environFromStrings, readStringArea } from './task-details.js'
import type { TaskDetails } from './task-details.js'
import { taskStateLetter } from './task-state.js'
import { readMaps } from './vmas.js'
import type { VmaLayouts } from './vmas.js'

/** Services the OS instance shares with its processes. */
export interface ProcessServices {
  readonly kernel: KernelContext
  readonly lifetime: Lifetime
  vmaLayouts(): VmaLayouts
  pathResolver(): PathResolver
  /** The [vsyscall] line the kernel appends to every user process's maps, if enabled. */
  gateEntry(): Promise<MapEntry | undefined>
  /** Whether a task with this address and start time is still on the task list (live sources). */
  stillRunning(task: TaskRecord): Promise<boolean>
  /** The task as the current task list has it (live sources). */
  currentTask(task: TaskRecord): Promise<TaskRecord | undefined>
  /** Re-reads a task's details (live sources). */
  taskDetails(task: TaskRecord): Promise<TaskDetails | undefined>
  readonly volatile: boolean
}

export class LinuxProcess implements OsProcess {
  readonly ref: ProcessRef
  readonly lifetime: Lifetime
  readonly mem: VirtualMemory
  readonly addressSpaceBytes: bigint
  readonly dtb: PhysAddr | undefined

  constructor(private readonly services: ProcessServices, readonly task: TaskRecord, private readonly details: TaskDetails) {
    const kernel = services.kernel
    this.ref = { pid: task.pid, ppid: task.ppid, name: task.comm, startTime: task.startTime }
    this.lifetime = new Lifetime(`process ${task.pid} (${task.comm})`, services.lifetime,
      async () => (services.volatile && !(await services.stillRunning(task)) ? 'has exited or replaced its program' : undefined))
    this.addressSpaceBytes = addressSpaceBytes(kernel.mode)
    const mm = details.mm
    this.dtb = mm === undefined ? undefined : directMapToPhys(kernel, mm.pgd, `process ${task.pid}: mm->pgd`)
    this.mem = this.dtb === undefined ? kernel.kmem : new VirtualAddressSpace(kernel.mem, this.dtb, kernel.mode, { tableCache: kernel.tableCache })
  }

  get kernelThread(): boolean {
    return (this.task.flags & PF_KTHREAD) !== 0 || this.details.mm === undefined
  }

  /** Task and details as of now: those read at lookup for a dump, re-read for a live guest (state, brk, stack move). */
  private async current(): Promise<{ task: TaskRecord; details: TaskDetails }> {
    if (!this.services.volatile) return { task: this.task, details: this.details }
    await this.lifetime.ensureAlive('os')
    const task = (await this.services.currentTask(this.task)) ?? this.task
    return { task, details: (await this.services.taskDetails(task)) ?? this.details }
  }

  async info(): Promise<ProcessInfo> {
    const { task, details } = await this.current()
    const mm = details.mm
    let path: string | undefined
    let cmdline: string[] = []
    if (mm !== undefined) {
      cmdline = await readStringArea(this.mem, mm.argStart, mm.argEnd)
      if (mm.exeFile !== 0n) path = await this.exePath(mm.exeFile)
    }
    return {
      ...this.ref,
      ppid: task.ppid,
      path,
      cmdline,
      state: taskStateLetter(task.state, task.exitState),
      uid: details.uid,
      threads: details.threads,
      dtb: this.dtb,
      arch: 'x86_64',
      kernelThread: this.kernelThread,
    }
  }

  private async exePath(file: bigint): Promise<string | undefined> {
    const kernel = this.services.kernel
    const layout = kernel.btf.struct('file')
    const [result] = await kernel.kmem.read([{ addr: virtAddr(file), length: layout.sizeBytes }])
    if (result === undefined || !result.ok) return undefined
    const view = new DataView(result.data.buffer, result.data.byteOffset, result.data.byteLength)
    const dentry = view.getBigUint64(layout.field('f_path.dentry').offsetBytes, true)
    const vfsmount = view.getBigUint64(layout.field('f_path.mnt').offsetBytes, true)
    const [path] = await this.services.pathResolver().resolve([{ dentry, vfsmount }])
    return typeof path === 'string' ? path : undefined
  }

  async maps(): Promise<MapEntry[]> {
    const mm = (await this.current()).details.mm
    if (mm === undefined) return []
    const kernel = this.services.kernel
    const entries = await readMaps(kernel, this.services.vmaLayouts(), this.services.pathResolver(), mm, `process ${this.task.pid} maps`)
    const gate = await this.services.gateEntry()
    return gate === undefined ? entries : [...entries, gate]
  }

  async physMaps(): Promise<PhysMapEntry[]> {
    if (this.dtb === undefined) return []
    const kernel = this.services.kernel
    const userHalf = 1n << BigInt(kernel.mode.virtualBits - 1)
    const walk = await walkMappings(kernel.mem, physAddr(this.dtb), kernel.mode, { start: 0n, end: userHalf }, { tableCache: kernel.tableCache })
    return walk.runs.map((run) => ({ virt: run.virt, phys: run.phys, sizeBytes: run.sizeBytes, writable: run.writable, executable: run.executable, user: run.user }))
  }

  async modules(): Promise<ModuleInfo[]> {
    return findElfImages(await this.maps(), this.mem)
  }

  async environ(): Promise<Record<string, string>> {
    const mm = (await this.current()).details.mm
    if (mm === undefined) return {}
    return environFromStrings(await readStringArea(this.mem, mm.envStart, mm.envEnd))
  }
}
