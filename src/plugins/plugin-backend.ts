/**
 * Where a plugin's handlers run. The mappings a plugin adds to the tree
 * (plugin-mappings.ts) call a backend: in-process for built-ins, a
 * sandboxed child process for user plugins. Both take the same calls, so
 * built-ins and user plugins register through one path.
 */
import type { Lifetime } from '../tree/index.js'
import type { ObjectAccess } from './object-access.js'
import type { PluginManifest } from './plugin-api.js'

/** One call's subject: the object, the plugin leaf (or branch) and, for a branch, the child. */
export interface PluginTarget {
  readonly access: ObjectAccess
  readonly leaf: string
  readonly child: string | undefined
}

/** A streamed leaf's bytes, pulled chunk by chunk; undefined means the end. */
export interface ChunkSource {
  next(): Promise<Uint8Array | undefined>
  close(): Promise<void>
}

export type LeafOutput = { readonly bytes: Uint8Array } | { readonly stream: ChunkSource }

export type ProgressSink = (fraction: number, note?: string) => void

export interface PluginBackend {
  readonly manifest: PluginManifest
  /**
   * The lifetime of the plugin's current run (handles opened through it go
   * stale when it ends); undefined when it runs as long as the daemon.
   * Throws a clear error when the plugin is not running.
   */
  generation(): Lifetime | undefined
  read(target: PluginTarget): Promise<LeafOutput>
  /** `signal`: the caller cancelled (protocol `cancel`); a handler that watches ctx.signal stops early. */
  rpc(target: PluginTarget, request: unknown, progress: ProgressSink, signal?: AbortSignal): Promise<unknown>
  write(target: PluginTarget, offset: bigint, data: Uint8Array): Promise<void>
  list(target: PluginTarget): Promise<string[]>
}
