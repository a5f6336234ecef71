/**
 * What every connector kind provides: a physical memory view, a lifetime
 * (stale when the source is replaced or goes away), an info record, and
 * hints for OS layers (ELF notes of a core dump: VMCOREINFO, CPU state).
 */
import type { Logger } from 'pino'
import type { PhysicalMemory } from '../mem/index.js'
import type { KindArgs, Lifetime } from '../tree/index.js'

export interface ElfNote {
  readonly name: string
  readonly type: number
  readonly desc: Uint8Array
}

/** Control registers of one virtual CPU, as a hypervisor reported them. */
export interface CpuRegisterSnapshot {
  readonly cpu: number
  /** Raw CR3 (PCID and no-flush bits included). */
  readonly cr3: bigint
  /** Raw CR4 (bit 12 = LA57), when the source gave it. */
  readonly cr4: bigint | undefined
}

/** One loaded driver as a triage dump lists it (its own list, beside the memory blocks). */
export interface TriageDriver {
  /** As the kernel recorded it: \\SystemRoot\\system32\\ntoskrnl.exe. */
  readonly path: string
  readonly base: bigint
  readonly sizeBytes: number
}

/**
 * What a Windows crash dump's header says about the system, for the
 * `windows` OS kind. Addresses are kernel virtual addresses except dtb.
 */
export interface WindowsDumpHints {
  readonly bits: 32 | 64
  /** 'full', 'bitmap-kernel', 'triage', ... (see dump-header.ts). */
  readonly dumpType: string
  readonly build: number
  readonly machine: string
  readonly dtb: bigint
  readonly kdDebuggerDataBlock: bigint
  readonly psActiveProcessHead: bigint
  readonly psLoadedModuleList: bigint
  readonly bugcheckCode: number
  /** x86 dumps: PAE paging. */
  readonly paeEnabled: boolean | undefined
  /** Triage dumps only: the structure copies the format keeps beside its memory blocks. */
  readonly triage?: {
    readonly debuggerData: Uint8Array | undefined
    readonly process: Uint8Array | undefined
    readonly thread: Uint8Array | undefined
    readonly drivers: readonly TriageDriver[]
  }
}

export interface ConnectorHints {
  /** Header facts of a Windows crash dump (PAGEDU64 / PAGEDUMP). */
  readonly windowsDump?: WindowsDumpHints
  /** Notes of an ELF core dump (QEMU dump-guest-memory, kdump), in file order. */
  readonly elfNotes?: readonly ElfNote[]
  /** Text of a VMCOREINFO note or device, when the source has one. */
  readonly vmcoreinfo?: string
  /**
   * Control registers of a live guest's vCPUs (QEMU over QMP), taken once when
   * the connector attached. CR3 moves with the running process, but the kernel
   * half of every page table is the same, so any of them finds the kernel.
   */
  readonly cpuRegisters?: readonly CpuRegisterSnapshot[]
  /** The guest's architecture when the source knows it (a live QEMU: from its binary, qemu-system-aarch64 → arm64). */
  readonly guestArch?: 'x86_64' | 'arm64'
}

export interface PhysRangeInfo {
  readonly start: string
  readonly end: string
  readonly sizeBytes: number
}

export interface Connector {
  readonly kind: string
  readonly mem: PhysicalMemory
  readonly lifetime: Lifetime
  readonly hints: ConnectorHints
  /** JSON-ready facts for connector/NAME/info: kind, args, size, ranges, readonly, stats. */
  info(): Promise<Record<string, unknown>> | Record<string, unknown>
  close(): Promise<void>
}

export interface ConnectorContext {
  readonly allowWrite: boolean
  /**
   * Folders a client-named file (file:PATH) must lie in; undefined when the path comes from the daemon's
   * own command line or config, or from an in-process node (docs/access.md).
   */
  readonly fileRoots?: readonly string[]
  readonly log: Logger
  /** The lifetime the connector should hang under (its own is a child of this). */
  readonly parentLifetime: Lifetime
  /** Description used in stale messages, e.g. "connector 'dump'". */
  readonly description: string
}

export interface ConnectorKind {
  readonly kind: string
  /** One line for `connector new` usage and errors: e.g. "file:PATH[,strict=true]". */
  readonly usage: string
  create(args: KindArgs, context: ConnectorContext): Promise<Connector>
}
