/**
 * A Windows guest as an OsInstance: the kernel opened from memory
 * (windows-open.ts), its process table read once (dumps do not change),
 * processes by pid, drivers from PsLoadedModuleList (or a triage dump's
 * own driver list) and the kernel address space.
 */
import { virtAddr } from '../../mem/index.js'
import type { VirtualMemory } from '../../mem/index.js'
import { Lifetime } from '../../tree/index.js'
import type { ModuleInfo, OsInstance, OsProcess, ProcessRef } from '../os-model.js'
import { WindowMemory } from '../window-memory.js'
import { kdbgFacts } from './kdbg.js'
import { ntoskrnlFacts } from './find-ntoskrnl.js'
import { readLdrList } from './ldr-entries.js'
import { isKernelAddress } from './process-ring.js'
import type { ProcessTable } from './process-table.js'
import type { WindowsKernel } from './windows-open.js'
import { WindowsProcess } from './windows-process.js'

export class WindowsOs implements OsInstance {
  readonly kind = 'windows'
  readonly lifetime: Lifetime
  readonly kernelMemory: VirtualMemory
  readonly kernelAddressSpaceBytes = 1n << 64n
  private readonly byPid = new Map<number, WindowsProcess>()
  private drivers: Promise<ModuleInfo[]> | undefined

  constructor(readonly kernel: WindowsKernel, readonly table: ProcessTable, private readonly facts: Record<string, unknown>,
    private readonly timingsMs: Record<string, number>, description: string, parent: Lifetime) {
    this.lifetime = new Lifetime(description, parent)
    this.kernelMemory = kernel.kmem
  }

  async info(): Promise<Record<string, unknown>> {
    const { layout } = this.table
    const hex = (n: number | undefined): string | undefined => (n === undefined ? undefined : `0x${n.toString(16)}`)
    const limitations: string[] = []
    if (this.kernel.mem === undefined) limitations.push('no page tables or physical pages (triage dump): process memory beyond the kernel blocks, VADs, PEB loader lists and phys_maps cannot be read')
    if (this.kernel.ntoskrnl === undefined) limitations.push(`ntoskrnl's PE header page (at ${`0x${this.kernel.kernelBase.toString(16)}`}) is not in the dump: no section table and no exports`)
    if (this.table.incomplete !== undefined) limitations.push(this.table.incomplete)
    if (layout.vadRoot === undefined && this.kernel.mem !== undefined) limitations.push('no VadRoot offset was found: maps are empty')
    return {
      kind: this.kind,
      ...this.facts,
      ntoskrnl: this.kernel.ntoskrnl === undefined ? undefined : ntoskrnlFacts(this.kernel.ntoskrnl),
      kdbg: this.kernel.kdbg === undefined ? undefined : kdbgFacts(this.kernel.kdbg),
      eprocess: {
        offsets: { uniqueProcessId: hex(layout.pid), activeProcessLinks: hex(layout.links), imageFileName: hex(layout.name), directoryTableBase: hex(layout.dtb),
          inheritedFromUniqueProcessId: hex(layout.parent), peb: hex(layout.peb), vadRoot: hex(layout.vadRoot) },
        sources: layout.sources,
        processes: this.table.records.length,
      },
      limitations,
      timingsMs: this.timingsMs,
    }
  }

  async processes(): Promise<ProcessRef[]> {
    await this.lifetime.ensureAlive('os')
    return this.table.records.map((r) => ({ pid: r.pid, ppid: r.ppid, name: r.name, startTime: r.addr })).sort((a, b) => a.pid - b.pid)
  }

  async process(pid: number): Promise<OsProcess | undefined> {
    await this.lifetime.ensureAlive('os')
    const known = this.byPid.get(pid)
    if (known !== undefined) return known
    const record = this.table.records.find((r) => r.pid === pid)
    if (record === undefined) return undefined
    const process = new WindowsProcess(this.kernel, record, this.lifetime)
    this.byPid.set(pid, process)
    return process
  }

  async kernelModules(): Promise<ModuleInfo[]> {
    await this.lifetime.ensureAlive('os')
    this.drivers ??= this.readDrivers()
    this.drivers.catch(() => { this.drivers = undefined })
    return this.drivers
  }

  private async readDrivers(): Promise<ModuleInfo[]> {
    const listed = this.kernel.triage?.drivers
    if (listed !== undefined && (this.kernel.mem === undefined || this.kernel.moduleList === undefined)) {
      return listed.map((d) => ({ name: d.path.split('\\').pop() ?? d.path, base: virtAddr(d.base), sizeBytes: BigInt(d.sizeBytes), path: d.path, extra: { source: 'triage dump driver list' } }))
    }
    if (this.kernel.moduleList === undefined) return []
    return readLdrList(this.kernel.kmem, this.kernel.moduleList, 'drivers (PsLoadedModuleList)', isKernelAddress)
  }

  kernelModuleMemory(module: ModuleInfo): VirtualMemory {
    return new WindowMemory(this.kernel.kmem, virtAddr(module.base), module.sizeBytes)
  }

  refresh(): void {
    // A dump never changes: the table read at open stands.
  }

  async close(): Promise<void> {
    this.lifetime.end('was closed')
  }
}
