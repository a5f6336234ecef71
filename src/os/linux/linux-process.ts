/**
 * One guest process (thread group) as an OsProcess: its address space from
 * mm->pgd, /proc-style info, maps from the VMA tree, mapped ELF images and
 * the environment. Kernel threads have no mm: their memory is the kernel's
 * address space and they have no maps, arguments or environment.
 */
import { VirtualAddressSpace, addressSpaceBytes, halfBits, walkMappings } from '../../arch/index.js'
import { MemweaveError } from '../../errors/index.js'
import { physAddr, virtAddr } from '../../mem/index.js'
import type { PhysAddr, VirtualMemory } from '../../mem/index.js'
import { Lifetime } from '../../tree/index.js'
import { findElfImages } from '../elf-images.js'
import { UnreadableMemory } from './unreadable-memory.js'
import type { MapEntry, ModuleInfo, OsProcess, PhysMapEntry, ProcessInfo, ProcessRef } from '../os-model.js'
import type { ThreadState } from '../thread-state.js'
import type { PathResolver } from './dentry-path.js'
import { directMapToPhys } from './kernel-context.js'
import type { KernelContext } from './kernel-context.js'
import { PF_KTHREAD } from './task-list.js'
import type { TaskRecord } from './task-list.js'
import { environFromStrings, readStringArea } from './task-details.js'
import type { TaskDetails } from './task-details.js'
import type { TaskCheck } from './task-check.js'
import { taskStateLetter } from './task-state.js'
import { readProcessThreads, readSavedAuxv } from './linux-threads.js'
import type { VcpuState } from './vcpu-registers.js'
import { readMaps } from './vmas.js'
import type { VmaLayouts } from './vmas.js'

/** How long a live task found alive is taken to be alive: far below any human or test round trip to the guest. */
export const LIVE_CHECK_REUSE_MS = 10

/** Services the OS instance shares with its processes. */
export interface ProcessServices {
  readonly kernel: KernelContext
  readonly lifetime: Lifetime
  vmaLayouts(): VmaLayouts
  pathResolver(): PathResolver
  /** The [vsyscall] line the kernel appends to every user process's maps, if enabled. */
  gateEntry(): Promise<MapEntry | undefined>
  /** Re-reads the task: its current record, or why it is gone (live sources). */
  checkTask(task: TaskRecord): Promise<TaskCheck>
  /** Re-reads a task's details (live sources). */
  taskDetails(task: TaskRecord): Promise<TaskDetails | undefined>
  readonly volatile: boolean
  /** The dump's vCPUs and the task each ran (empty for live sources). */
  vcpuStates(): Promise<VcpuState[]>
}

/** The damage notes of a task and its details, as the optional `damage` field of ProcessInfo. */
function damageOf(task: TaskRecord, details: TaskDetails): { damage?: readonly string[] } {
  const damage = [...(task.damage ?? []), ...details.damage]
  return damage.length === 0 ? {} : { damage }
}

export class LinuxProcess implements OsProcess {
  readonly ref: ProcessRef
  readonly lifetime: Lifetime
  readonly mem: VirtualMemory
  readonly addressSpaceBytes: bigint
  readonly dtb: PhysAddr | undefined
  /** The task as the last lifetime check read it (live sources). */
  private latest: TaskRecord
  private checkedAt = Number.NEGATIVE_INFINITY
  private checking: Promise<string | undefined> | undefined

  constructor(private readonly services: ProcessServices, readonly task: TaskRecord, private readonly details: TaskDetails) {
    const kernel = services.kernel
    this.latest = task
    this.ref = { pid: task.pid, ppid: task.ppid, name: task.comm, startTime: task.startTime }
    // On a live source handle accesses re-read the task: exit, pid reuse and exec show at once.
    this.lifetime = new Lifetime(`process ${task.pid} (${task.comm})`, services.lifetime, services.volatile ? () => this.recheck() : undefined)
    this.addressSpaceBytes = addressSpaceBytes(kernel.mode)
    const mm = details.mm
    this.dtb = mm === undefined ? undefined : directMapToPhys(kernel, mm.pgd, `process ${task.pid}: mm->pgd`)
    const kernelThread = (task.flags & PF_KTHREAD) !== 0 || task.mm === 0n
    this.mem = this.dtb !== undefined ? new VirtualAddressSpace(kernel.mem, this.dtb, kernel.mode, { tableCache: kernel.tableCache, upperDtb: kernel.dtb })
      : kernelThread ? kernel.kmem
        : new UnreadableMemory(kernel.kmem.metadata(), `process ${task.pid} (${task.comm}) has no readable address space: ${details.damage.join('; ') || 'its mm has no page tables'}`)
  }

  /**
   * Why the task is gone, or undefined while it runs. A positive answer is
   * reused for LIVE_CHECK_REUSE_MS (a tight loop of small reads would
   * otherwise spend more time checking than reading); concurrent checks share one read.
   */
  private recheck(): Promise<string | undefined> | undefined {
    if (performance.now() - this.checkedAt < LIVE_CHECK_REUSE_MS) return undefined
    this.checking ??= this.services.checkTask(this.task).then((check) => {
      if (!check.alive) return check.reason
      this.latest = check.task
      this.checkedAt = performance.now()
      return undefined
    }).finally(() => { this.checking = undefined })
    return this.checking
  }

  /** Forgets this address space's cached translations (refresh on a live source). */
  invalidateCaches(): void {
    if (this.mem instanceof VirtualAddressSpace && this.mem !== this.services.kernel.kmem) this.mem.translationCache?.invalidate()
  }

  /** A task without an mm of its own; a user task whose mm cannot be read is damaged, not a kernel thread. */
  get kernelThread(): boolean {
    return (this.task.flags & PF_KTHREAD) !== 0 || this.task.mm === 0n
  }

  /** Task and details as of now: those read at lookup for a dump, re-read for a live guest (state, brk, stack move). */
  private async current(): Promise<{ task: TaskRecord; details: TaskDetails }> {
    if (!this.services.volatile) return { task: this.task, details: this.details }
    this.checkedAt = Number.NEGATIVE_INFINITY // info, maps and environ read the task as it is now
    await this.lifetime.ensureAlive('os')
    const task = this.latest
    return { task, details: (await this.services.taskDetails(task)) ?? this.details }
  }

  async info(): Promise<ProcessInfo> {
    const { task, details } = await this.current()
    const mm = details.mm
    let path: string | undefined
    let cmdline: string[] = []
    if (mm !== undefined) {
      // A damaged process still has info: an argument area that cannot be read is one more damage note.
      cmdline = await readStringArea(this.mem, mm.argStart, mm.argEnd).catch(async (err: unknown) => {
        if (damageOf(task, details).damage !== undefined) return []
        // A live process exiting (or exec'ing) while we read: say it is gone (stale) if it is, not that memory is unmapped.
        if (this.services.volatile) {
          this.checkedAt = Number.NEGATIVE_INFINITY
          await this.lifetime.ensureAlive('os')
        }
        throw err
      })
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
      arch: this.services.kernel.mode.splitRoots === true ? 'aarch64' : 'x86_64',
      kernelThread: this.kernelThread,
      ...damageOf(task, details),
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
    const { task, details } = await this.current()
    const mm = details.mm
    if (mm === undefined && !this.kernelThread) {
      throw new MemweaveError('os', 'malformed', `process ${task.pid} (${task.comm}) is damaged, its maps cannot be read: ${details.damage.join('; ')}`)
    }
    if (mm === undefined) return []
    const kernel = this.services.kernel
    const entries = await readMaps(kernel, this.services.vmaLayouts(), this.services.pathResolver(), mm, `process ${this.task.pid} maps`)
    const gate = await this.services.gateEntry()
    return gate === undefined ? entries : [...entries, gate]
  }

  async physMaps(): Promise<PhysMapEntry[]> {
    if (this.dtb === undefined) return []
    const kernel = this.services.kernel
    const userHalf = 1n << BigInt(halfBits(kernel.mode))
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

  async threads(): Promise<ThreadState[]> {
    const { task } = await this.current()
    return readProcessThreads(this.services.kernel, task, this.kernelThread, await this.services.vcpuStates())
  }

  async auxv(): Promise<Uint8Array> {
    const mm = (await this.current()).details.mm
    return mm === undefined ? new Uint8Array() : readSavedAuxv(this.services.kernel, mm)
  }
}
