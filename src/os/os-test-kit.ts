/**
 * Small in-memory OS and processes for tests of the generic OS tree and
 * the core writer: pages are set explicitly, anything else is unmapped,
 * so expected bytes and holes are known exactly.
 */
import { MemweaveError } from '../errors/index.js'
import { hex, virtAddr } from '../mem/index.js'
import type { MemMetadata, PieceResult, ReadPiece, VirtAddr, VirtualMemory, WritePiece, WriteResult } from '../mem/index.js'
import { Lifetime } from '../tree/index.js'
import { findElfImages } from './elf-images.js'
import type { MapEntry, ModuleInfo, OsInstance, OsProcess, PhysMapEntry, ProcessInfo, ProcessRef } from './os-model.js'

const PAGE = 4096n

/** Memory made of explicitly set 4 KiB pages. */
export class PageMemory implements VirtualMemory {
  readonly pages = new Map<bigint, Uint8Array>()
  reads = 0

  constructor(readonly sizeBytes: bigint = 1n << 48n) {}

  /** Sets bytes, creating zeroed pages as needed. */
  set(addr: bigint, data: Uint8Array): void {
    for (let i = 0; i < data.length; i++) {
      const at = addr + BigInt(i)
      const page = at / PAGE
      let bytes = this.pages.get(page)
      if (bytes === undefined) { bytes = new Uint8Array(Number(PAGE)); this.pages.set(page, bytes) }
      bytes[Number(at % PAGE)] = data[i] ?? 0
    }
  }

  async read(pieces: readonly ReadPiece<VirtAddr>[]): Promise<PieceResult[]> {
    this.reads++
    return pieces.map((piece): PieceResult => {
      const out = new Uint8Array(piece.length)
      for (let i = 0; i < piece.length; i++) {
        const at = piece.addr + BigInt(i)
        const page = this.pages.get(at / PAGE)
        if (page === undefined) return { ok: false, error: new MemweaveError('mem', 'unmapped', `address ${hex(at)} is not mapped`) }
        out[i] = page[Number(at % PAGE)] ?? 0
      }
      return { ok: true, data: out }
    })
  }

  async write(pieces: readonly WritePiece<VirtAddr>[]): Promise<WriteResult[]> {
    return pieces.map(() => ({ ok: false, error: new MemweaveError('mem', 'permission', 'read-only test memory') }))
  }

  metadata(): MemMetadata {
    return { maxAddress: this.sizeBytes, idealBatchSize: 64, readonly: true, volatile: false }
  }
}

export function mapEntry(start: bigint, end: bigint, perms: string, path = '', offset = 0n): MapEntry {
  return { start: virtAddr(start), end: virtAddr(end), perms, offset, dev: path.startsWith('/') ? 'fe:00' : '00:00', inode: path.startsWith('/') ? 42n : 0n, path }
}

export interface TestProcessOptions {
  readonly pid: number
  readonly name: string
  readonly startTime?: bigint
  readonly ppid?: number
  readonly maps?: readonly MapEntry[]
  readonly mem?: PageMemory
  readonly environ?: Record<string, string>
  readonly auxv?: Uint8Array
  readonly parent?: Lifetime
}

export class TestProcess implements OsProcess {
  readonly ref: ProcessRef
  readonly lifetime: Lifetime
  readonly mem: PageMemory
  readonly addressSpaceBytes = 1n << 48n
  readonly environ?: () => Promise<Record<string, string>>
  readonly auxv?: () => Promise<Uint8Array>

  constructor(private readonly options: TestProcessOptions) {
    this.ref = { pid: options.pid, ppid: options.ppid ?? 1, name: options.name, startTime: options.startTime ?? 100n }
    this.lifetime = new Lifetime(`process ${options.pid} (${options.name})`, options.parent)
    this.mem = options.mem ?? new PageMemory()
    const { environ, auxv } = options
    if (environ !== undefined) this.environ = async () => environ
    if (auxv !== undefined) this.auxv = async () => auxv
  }

  async info(): Promise<ProcessInfo> {
    return {
      ...this.ref, path: `/bin/${this.ref.name}`, cmdline: [`/bin/${this.ref.name}`, '--flag'], state: 'S', uid: 1000, threads: 1,
      dtb: undefined, arch: 'x86_64', kernelThread: false,
    }
  }

  async maps(): Promise<MapEntry[]> { return [...(this.options.maps ?? [])] }
  async physMaps(): Promise<PhysMapEntry[]> { return [] }
  modules(): Promise<ModuleInfo[]> { return findElfImages(this.options.maps ?? [], this.mem) }
}

export class TestOs implements OsInstance {
  readonly kind = 'test'
  readonly lifetime = new Lifetime("os 'test'")
  readonly kernelAddressSpaceBytes = 1n << 48n
  readonly procs = new Map<number, TestProcess>()
  readonly kernelMemory: VirtualMemory | undefined

  constructor(kernelMemory?: VirtualMemory, private readonly modules: ModuleInfo[] = []) {
    this.kernelMemory = kernelMemory
  }

  add(options: Omit<TestProcessOptions, 'parent'>): TestProcess {
    const proc = new TestProcess({ ...options, parent: this.lifetime })
    this.procs.get(options.pid)?.lifetime.end('is gone: pid reused')
    this.procs.set(options.pid, proc)
    return proc
  }

  async info(): Promise<Record<string, unknown>> { return { kind: 'test', kernelRelease: '0.0-test' } }
  async processes(): Promise<ProcessRef[]> { return [...this.procs.values()].map((p) => p.ref).sort((a, b) => a.pid - b.pid) }
  async process(pid: number): Promise<OsProcess | undefined> { return this.procs.get(pid) }
  async kernelModules(): Promise<ModuleInfo[]> { return this.modules }
  refresh(): void {}
  async close(): Promise<void> {}
}
