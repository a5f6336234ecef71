/**
 * One Windows process as an OsProcess: its address space through the
 * DirectoryTableBase in its EPROCESS (x86-64 paging from src/arch), maps
 * from its VAD tree, modules from its PEB loader list, path and command
 * line from its process parameters. Kernel-only processes (System,
 * Registry, MemCompression: no PEB) have no maps or modules. In a triage
 * dump there are no page tables: a process's memory is the kernel view.
 */
import { walkMappings } from '../../arch/index.js'
import { physAddr, virtAddr } from '../../mem/index.js'
import type { VirtualMemory } from '../../mem/index.js'
import { Lifetime } from '../../tree/index.js'
import type { MapEntry, ModuleInfo, OsProcess, PhysMapEntry, ProcessInfo, ProcessRef } from '../os-model.js'
import { readPebModules, readProcessParameters } from './peb.js'
import { userSpaceOf } from './process-table.js'
import type { EprocessRecord } from './process-table.js'
import { readVads, vadPerms } from './vad-tree.js'
import type { WindowsKernel } from './windows-open.js'

const USER_HALF = 1n << 47n

export class WindowsProcess implements OsProcess {
  readonly ref: ProcessRef
  readonly lifetime: Lifetime
  readonly mem: VirtualMemory
  readonly addressSpaceBytes: bigint
  private modulesRead: Promise<ModuleInfo[]> | undefined

  constructor(private readonly kernel: WindowsKernel, readonly record: EprocessRecord, parent: Lifetime) {
    // No creation time offset without symbols: the EPROCESS address tells a process from a later one with its pid.
    this.ref = { pid: record.pid, ppid: record.ppid, name: record.name, startTime: record.addr }
    this.lifetime = new Lifetime(`process ${record.pid} (${record.name})`, parent)
    const own = userSpaceOf(kernel, record.dtb)
    this.mem = own ?? kernel.kmem
    this.addressSpaceBytes = own === undefined ? 1n << 64n : 1n << 48n
  }

  get kernelOnly(): boolean {
    return this.record.peb === 0n
  }

  async info(): Promise<ProcessInfo> {
    const params = this.kernelOnly ? { path: undefined, cmdline: [] } : await readProcessParameters(this.mem, this.record.peb)
    return {
      ...this.ref,
      path: params.path,
      cmdline: params.cmdline,
      // Windows has no /proc state letter, and thread counts need offsets not found without symbols.
      state: '?',
      uid: 0,
      threads: 0,
      dtb: this.record.dtb === 0n ? undefined : physAddr(this.record.dtb & ~0xfffn),
      arch: this.kernel.arch,
      kernelThread: this.kernelOnly,
    }
  }

  async modules(): Promise<ModuleInfo[]> {
    if (this.kernelOnly || this.kernel.mem === undefined) return []
    this.modulesRead ??= readPebModules(this.mem, this.record.peb, `process ${this.record.pid}`)
    return this.modulesRead
  }

  async maps(): Promise<MapEntry[]> {
    if (this.record.vadRoot === 0n || this.kernel.mem === undefined) return []
    const vads = await readVads(this.kernel.kmem, this.record.vadRoot, `process ${this.record.pid} (${this.record.name}) VAD tree`)
    const images = await this.modules()
    return vads.map((vad): MapEntry => {
      const image = images.find((m) => vad.start >= m.base && vad.end <= m.base + m.sizeBytes)
      return {
        start: virtAddr(vad.start),
        end: virtAddr(vad.end),
        perms: vadPerms(vad),
        offset: image === undefined ? 0n : vad.start - image.base,
        dev: '00:00',
        inode: 0n,
        path: image?.path ?? '',
      }
    })
  }

  async physMaps(): Promise<PhysMapEntry[]> {
    const { mem, mode, tableCache } = this.kernel
    if (mem === undefined || mode === undefined || this.record.dtb === 0n) return []
    const walk = await walkMappings(mem, physAddr(this.record.dtb & ~0xfffn), mode, { start: 0n, end: USER_HALF }, { tableCache })
    return walk.runs.map((run) => ({ virt: run.virt, phys: run.phys, sizeBytes: run.sizeBytes, writable: run.writable, executable: run.executable, user: run.user }))
  }
}
