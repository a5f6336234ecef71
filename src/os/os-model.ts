/**
 * The OS model every OS kind (linux guest, native host) implements, and the
 * shapes of what it enumerates. The tree layout under os/NAME/ is built from
 * this model once (os-tree), so every OS kind looks the same to users.
 */
import type { Logger } from 'pino'
import type { Connector } from '../connectors/index.js'
import type { PhysAddr, VirtAddr, VirtualMemory } from '../mem/index.js'
import type { KindArgs, Lifetime } from '../tree/index.js'
import type { ThreadState } from './thread-state.js'

export interface ProcessRef {
  readonly pid: number
  readonly ppid: number
  /** Short name (the kernel's comm). */
  readonly name: string
  /** Tells a process from a later one with the same pid (kernel start time, ns or ticks). */
  readonly startTime: bigint
}

export interface ProcessInfo extends ProcessRef {
  readonly path: string | undefined
  readonly cmdline: readonly string[]
  /** Single-letter state as in /proc/PID/stat (R, S, D, Z, T, I, ...). */
  readonly state: string
  readonly uid: number
  readonly threads: number
  /** Page-table root (CR3) of the address space, when known. */
  readonly dtb: PhysAddr | undefined
  readonly arch: string
  readonly kernelThread: boolean
  /** What looked corrupt about this process in the OS's structures (a damaged dump); absent when nothing did. */
  readonly damage?: readonly string[]
}

export interface MapEntry {
  readonly start: VirtAddr
  readonly end: VirtAddr
  /** 'r-xp' style permissions. */
  readonly perms: string
  readonly offset: bigint
  readonly dev: string
  readonly inode: bigint
  /** Path or [heap]/[stack]/[vdso]…; '' for anonymous. */
  readonly path: string
}

export interface PhysMapEntry {
  readonly virt: VirtAddr
  readonly phys: PhysAddr
  readonly sizeBytes: bigint
  readonly writable: boolean
  readonly executable: boolean
  readonly user: boolean
}

export interface ModuleInfo {
  readonly name: string
  readonly base: VirtAddr
  readonly sizeBytes: bigint
  /** File path for mapped images; undefined for kernel modules. */
  readonly path: string | undefined
  readonly extra?: Readonly<Record<string, unknown>>
}

export interface OsProcess {
  readonly ref: ProcessRef
  /** Ends when the process exits or its pid is taken by another process. */
  readonly lifetime: Lifetime
  info(): Promise<ProcessInfo>
  /** The process's virtual address space. */
  readonly mem: VirtualMemory
  /** Size of the virtual address space (2^48, or 2^57 with LA57). */
  readonly addressSpaceBytes: bigint
  maps(): Promise<MapEntry[]>
  physMaps(): Promise<PhysMapEntry[]>
  /** Mapped ELF images (main executable and shared objects). */
  modules(): Promise<ModuleInfo[]>
  /** Environment variables, when the OS can read them. */
  environ?(): Promise<Record<string, string>>
  /** The raw auxiliary vector (pairs of u64 type, value), when known; core files carry it as NT_AUXV so gdb can relocate a PIE executable. */
  auxv?(): Promise<Uint8Array>
  /** Every thread with its user registers, the thread-group leader first, when the OS can read them. */
  threads?(): Promise<ThreadState[]>
}

export interface OsInstance {
  readonly kind: string
  readonly lifetime: Lifetime
  info(): Promise<Record<string, unknown>>
  /** Kernel virtual address space, when the OS exposes one. */
  readonly kernelMemory: VirtualMemory | undefined
  readonly kernelAddressSpaceBytes: bigint
  /** Thread groups (processes), kernel threads included, sorted by pid. */
  processes(): Promise<ProcessRef[]>
  /** The process with this pid now, or undefined. */
  process(pid: number): Promise<OsProcess | undefined>
  kernelModules(): Promise<ModuleInfo[]>
  /** Memory of one kernel module (a window of kernelMemory), when supported. */
  kernelModuleMemory?(module: ModuleInfo): VirtualMemory
  /** Forget cached listings (live sources). */
  refresh(): void
  close(): Promise<void>
}

export interface OsContext {
  readonly allowWrite: boolean
  readonly log: Logger
  readonly parentLifetime: Lifetime
  readonly description: string
  /**
   * Allowed roots for files named in the OS's args (linux symbols=) when the line came from a client;
   * undefined: any path (the daemon's own config, or an in-process node). Still regular files only.
   */
  readonly fileRoots?: readonly string[]
  /** Progress for long opens (kallsyms, BTF): phase name and fraction 0..1. */
  readonly progress?: (phase: string, fraction: number) => void
}

export interface OsKind {
  readonly kind: string
  readonly usage: string
  /** Whether the kind needs a connector ('-c'); native does not. */
  readonly needsConnector: boolean
  create(args: KindArgs, connector: Connector | undefined, context: OsContext): Promise<OsInstance>
}
