/**
 * The plugin API: what a plugin module exports and what its handlers get.
 * Types plus one identity helper (definePlugin) and no imports, so the
 * sandboxed runtime shares these declarations without loading daemon code.
 *
 *   export const plugin = definePlugin({
 *     name: 'hello', version: '1.0.0', attachesTo: 'process', filter: { name: 'sshd' },
 *     leaves: { 'hello.txt': { read: (ctx) => `pid ${ctx.object.pid}\n` } },
 *   })
 */

export const ATTACH_KINDS = ['process', 'module', 'os', 'connector'] as const
export type AttachKind = (typeof ATTACH_KINDS)[number]

/** Capabilities an object may have; a filter can ask for them (e.g. only processes whose environment is readable). */
export const OBJECT_FEATURES = ['environ', 'kernel-memory'] as const
export type ObjectFeature = (typeof OBJECT_FEATURES)[number]

/**
 * Which objects a plugin attaches to; all given fields must match. A string
 * matches exactly, or as a regular expression when written `/source/flags`.
 */
export interface PluginFilter {
  /** Process comm, module name, OS name or connector name. */
  readonly name?: string
  /** Name of the OS the object lives in (process, module, os). */
  readonly osName?: string
  /** Kind of that OS: 'native', 'linux', … (process, module, os). */
  readonly osKind?: string
  /** Kind of the connector: 'file', 'qemu', … (connector). */
  readonly connectorKind?: string
  /** Every listed feature must be present. */
  readonly features?: readonly ObjectFeature[]
}

export interface ProcessDescriptor {
  readonly kind: 'process'
  readonly osName: string
  readonly osKind: string
  readonly pid: number
  readonly ppid: number
  readonly name: string
  readonly startTime: bigint
  readonly features: readonly ObjectFeature[]
}

export interface ModuleDescriptor {
  readonly kind: 'module'
  readonly osName: string
  readonly osKind: string
  /** The process the image is mapped in; undefined for a kernel module. */
  readonly pid: number | undefined
  readonly name: string
  readonly base: bigint
  readonly sizeBytes: bigint
  readonly path: string | undefined
  readonly features: readonly ObjectFeature[]
}

export interface OsDescriptor {
  readonly kind: 'os'
  readonly name: string
  readonly osName: string
  readonly osKind: string
  readonly connectorName: string | undefined
  readonly features: readonly ObjectFeature[]
}

export interface ConnectorDescriptor {
  readonly kind: 'connector'
  readonly name: string
  readonly connectorKind: string
  readonly features: readonly ObjectFeature[]
}

/** Plain data naming one object; this is all a sandboxed plugin ever learns about it up front. */
export type ObjectDescriptor = ProcessDescriptor | ModuleDescriptor | OsDescriptor | ConnectorDescriptor

export interface DescriptorOf {
  process: ProcessDescriptor
  module: ModuleDescriptor
  os: OsDescriptor
  connector: ConnectorDescriptor
}

export interface PluginReadPiece {
  readonly addr: bigint
  readonly length: number
}

export interface PluginWritePiece {
  readonly addr: bigint
  readonly data: Uint8Array
}

/** An error as plugins see it: a kind from memweave's table ('unmapped', 'permission', …) and a message. */
export interface PluginErrorInfo {
  readonly kind: string
  readonly message: string
}

export type PluginReadResult = { readonly ok: true; readonly data: Uint8Array } | { readonly ok: false; readonly error: PluginErrorInfo }
export type PluginWriteResult = { readonly ok: true } | { readonly ok: false; readonly error: PluginErrorInfo }

/** A readable region of the object's memory: a process's readable maps, a connector's physical ranges, a module's image. */
export interface MemoryRange {
  readonly start: bigint
  readonly end: bigint
  readonly perms: string
  readonly path: string
}

export interface PluginMapEntry {
  readonly start: bigint
  readonly end: bigint
  readonly perms: string
  readonly offset: bigint
  readonly path: string
}

export interface PluginModuleInfo {
  readonly name: string
  readonly base: bigint
  readonly sizeBytes: bigint
  readonly path: string | undefined
}

/** What every handler receives: the object it runs for and calls that reach only that object. */
export interface PluginContext<K extends AttachKind = AttachKind> {
  readonly object: DescriptorOf[K]
  /** Aborted when the call is cancelled (the client's protocol `cancel`, a timeout, a closed stream). */
  readonly signal: AbortSignal
  /**
   * Batched read of the object's memory (process: virtual; connector:
   * physical; module: its image, offset 0 = its base; os: kernel virtual).
   * `object` may name another object granted to this call; any other is refused ('permission').
   */
  read(pieces: readonly PluginReadPiece[], object?: ObjectDescriptor): Promise<PluginReadResult[]>
  /** Needs `needsWrite` in the manifest and a daemon started with writes allowed. */
  write(pieces: readonly PluginWritePiece[], object?: ObjectDescriptor): Promise<PluginWriteResult[]>
  ranges(): Promise<MemoryRange[]>
  /** Memory maps (processes; other kinds answer 'unsupported'). */
  maps(): Promise<PluginMapEntry[]>
  info(): Promise<Record<string, unknown>>
  modules(): Promise<PluginModuleInfo[]>
  environ(): Promise<Record<string, string>>
  /** Reports progress of a long rpc (fraction 0..1); readers of the leaf see it. */
  progress(fraction: number, note?: string): void
}

/** A leaf's bytes: whole, or streamed in chunks (size unknown until the end). */
export type LeafContent = string | Uint8Array | AsyncIterable<string | Uint8Array>

export interface PluginLeaf<K extends AttachKind = AttachKind> {
  /** Shown when an rpc leaf is read, and in listings of sys/plugins. */
  readonly description?: string
  /** Generates the leaf's bytes, once per open. */
  read?(ctx: PluginContext<K>): LeafContent | Promise<LeafContent>
  rpc?(ctx: PluginContext<K>, request: unknown): unknown
  write?(ctx: PluginContext<K>, data: Uint8Array, offset: bigint): void | Promise<void>
}

/** A branch of generated leaves whose names the plugin lists per object. */
export interface PluginBranch<K extends AttachKind = AttachKind> {
  readonly description?: string
  list(ctx: PluginContext<K>): readonly string[] | Promise<readonly string[]>
  read?(ctx: PluginContext<K>, child: string): LeafContent | Promise<LeafContent>
  rpc?(ctx: PluginContext<K>, child: string, request: unknown): unknown
}

export interface PluginEvent<K extends AttachKind = AttachKind> {
  readonly event: 'appeared' | 'gone'
  readonly object: DescriptorOf[K]
}

export interface PluginDefinition<K extends AttachKind = AttachKind> {
  /** Unique among loaded plugins; [a-z0-9][a-z0-9._-]*. */
  readonly name: string
  readonly version: string
  readonly attachesTo: K
  readonly filter?: PluginFilter
  readonly needsWrite?: boolean
  readonly description?: string
  readonly leaves?: Readonly<Record<string, PluginLeaf<K>>>
  readonly branches?: Readonly<Record<string, PluginBranch<K>>>
  /** Told when objects the filter admits appear or go away (the first poll reports every present one). */
  onEvent?(event: PluginEvent<K>): void | Promise<void>
}

/** Types a plugin definition (an identity function: the type checker does the work). */
export function definePlugin<K extends AttachKind>(definition: PluginDefinition<K>): PluginDefinition<K> {
  return definition
}

/** What the daemon learns of one leaf or branch of a plugin. */
export interface LeafManifest {
  readonly name: string
  readonly branch: boolean
  readonly read: boolean
  readonly rpc: boolean
  readonly write: boolean
  readonly description: string
}

/** The data part of a definition: everything the daemon needs to register a plugin's leaves. */
export interface PluginManifest {
  readonly name: string
  readonly version: string
  readonly attachesTo: AttachKind
  readonly filter: PluginFilter
  readonly needsWrite: boolean
  readonly description: string
  readonly leaves: readonly LeafManifest[]
  readonly events: boolean
}
