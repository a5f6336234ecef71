/**
 * Runs a plugin's handlers inside the daemon: the backend of built-in
 * plugins (trusted code). Handlers get a context bound to their object;
 * streamed content is pulled lazily and aborted when the handle closes.
 */
import { MemweaveError, toMemweaveError } from '../errors/index.js'
import type { Lifetime } from '../tree/index.js'
import { validateManifest } from './manifest-check.js'
import type { LeafContent, PluginDefinition, PluginManifest } from './plugin-api.js'
import type { ChunkSource, LeafOutput, PluginBackend, PluginTarget, ProgressSink } from './plugin-backend.js'
import { contextFor } from './plugin-context.js'
import { normalizeContent } from './sandbox/runtime/leaf-content.js'
import { manifestOf } from './sandbox/runtime/manifest.js'

export class InProcessBackend implements PluginBackend {
  readonly manifest: PluginManifest

  constructor(readonly definition: PluginDefinition) {
    this.manifest = validateManifest(manifestOf(definition))
  }

  generation(): Lifetime | undefined {
    return undefined
  }

  async read(target: PluginTarget): Promise<LeafOutput> {
    const abort = new AbortController()
    const ctx = contextFor(this.manifest, target.access, abort.signal)
    const content = await this.run(target, 'read', async (): Promise<LeafContent> => {
      if (target.child === undefined) {
        const handler = this.definition.leaves?.[target.leaf]
        if (handler?.read === undefined) throw this.missing(target, 'read')
        return handler.read(ctx)
      }
      const branch = this.definition.branches?.[target.leaf]
      if (branch?.read === undefined) throw this.missing(target, 'read')
      return branch.read(ctx, target.child)
    })
    const normalized = normalizeContent(content)
    if ('bytes' in normalized) return { bytes: normalized.bytes }
    const { chunks } = normalized
    const source: ChunkSource = {
      next: async () => {
        try {
          const step = await chunks.next()
          return step.done === true ? undefined : step.value
        } catch (err) {
          throw toMemweaveError(err, 'plugin', `plugin '${this.manifest.name}' leaf '${target.child ?? target.leaf}'`)
        }
      },
      close: async () => {
        abort.abort()
        await chunks.return?.()
      },
    }
    return { stream: source }
  }

  rpc(target: PluginTarget, request: unknown, progress: ProgressSink, signal?: AbortSignal): Promise<unknown> {
    const ctx = contextFor(this.manifest, target.access, signal ?? new AbortController().signal, progress)
    return this.run(target, 'rpc', async () => {
      if (target.child === undefined) {
        const handler = this.definition.leaves?.[target.leaf]
        if (handler?.rpc === undefined) throw this.missing(target, 'rpc')
        return handler.rpc(ctx, request)
      }
      const branch = this.definition.branches?.[target.leaf]
      if (branch?.rpc === undefined) throw this.missing(target, 'rpc')
      return branch.rpc(ctx, target.child, request)
    })
  }

  async write(target: PluginTarget, offset: bigint, data: Uint8Array): Promise<void> {
    const handler = this.definition.leaves?.[target.leaf]
    if (handler?.write === undefined || target.child !== undefined) throw this.missing(target, 'write')
    const ctx = contextFor(this.manifest, target.access, new AbortController().signal)
    await this.run(target, 'write', async () => handler.write?.(ctx, data, offset))
  }

  list(target: PluginTarget): Promise<string[]> {
    const branch = this.definition.branches?.[target.leaf]
    if (branch === undefined) return Promise.reject(this.missing(target, 'list'))
    const ctx = contextFor(this.manifest, target.access, new AbortController().signal)
    return this.run(target, 'list', async () => [...(await branch.list(ctx))])
  }

  private async run<R>(target: PluginTarget, what: string, call: () => Promise<R>): Promise<R> {
    try {
      return await call()
    } catch (err) {
      throw toMemweaveError(err, 'plugin', `plugin '${this.manifest.name}' ${what} of '${target.child ?? target.leaf}' on ${target.access.descriptor.kind} ${target.access.descriptor.name}`)
    }
  }

  private missing(target: PluginTarget, what: string): MemweaveError {
    return new MemweaveError('plugin', 'unsupported', `plugin '${this.manifest.name}' has no ${what} handler for '${target.leaf}'`)
  }
}
