/**
 * The tree leaf behind one plugin leaf on one object. Opening it asks the
 * backend for the content (bytes or a stream, generated per open); an rpc
 * leaf's read shows its description and the progress of calls in flight,
 * live, so `cat`-ing it while a scan runs shows how far it got.
 */
import { MemweaveError, toMemweaveError } from '../errors/index.js'
import type { ReadPiece, WritePiece, WriteResult } from '../mem/index.js'
import { Lifetime, readSnapshot } from '../tree/index.js'
import type { Leaf, LeafMeta, OpenedLeaf, RpcContext } from '../tree/index.js'
import type { ObjectAccess } from './object-access.js'
import type { LeafManifest } from './plugin-api.js'
import type { ChunkSource, LeafOutput, PluginBackend, PluginTarget, ProgressSink } from './plugin-backend.js'
import { RpcProgress } from './rpc-progress.js'
import { StreamedReader } from './streamed-read.js'

const encoder = new TextEncoder()

export interface PluginLeafOptions {
  readonly identity: string
  /** The object's lifetime: the leaf is stale when the object is gone. */
  readonly objectLifetime: Lifetime
  readonly access: ObjectAccess
  readonly leaf: LeafManifest
  /** For a branch's child leaf: its name. */
  readonly child: string | undefined
  readonly backend: PluginBackend
  readonly progress: RpcProgress
}

/**
 * A lifetime that also ends when the plugin run the leaf was opened under
 * ends (crash, restart, removal). Check-only, with no listener on the
 * object's lifetime, so resolving leaves often leaks nothing.
 */
function leafLifetime(options: PluginLeafOptions, opened: () => Lifetime | undefined): Lifetime {
  const plugin = options.backend.manifest.name
  return new Lifetime(`plugin '${plugin}' leaf '${options.child ?? options.leaf.name}' of ${options.objectLifetime.description}`, undefined, async () => {
    const objectReason = await options.objectLifetime.staleReason()
    if (objectReason !== undefined) return objectReason
    return opened()?.ended === true ? `is gone: plugin '${plugin}' stopped or restarted since it was opened` : undefined
  })
}

function writeAll(backend: PluginBackend, target: PluginTarget) {
  return async (pieces: readonly WritePiece[]): Promise<WriteResult[]> => {
    const results: WriteResult[] = []
    for (const piece of pieces) {
      try {
        await backend.write(target, piece.addr, piece.data)
        results.push({ ok: true })
      } catch (err) {
        results.push({ ok: false, error: toMemweaveError(err, 'plugin', `write to '${target.child ?? target.leaf}'`) })
      }
    }
    return results
  }
}

function openedFromOutput(output: LeafOutput, reopen: () => Promise<LeafOutput>, description: string): Pick<OpenedLeaf, 'sizeBytes' | 'read' | 'close'> {
  if ('bytes' in output) {
    const bytes = output.bytes
    return { sizeBytes: BigInt(bytes.length), read: async (pieces) => readSnapshot(bytes, pieces) }
  }
  const streamOf = async (): Promise<ChunkSource> => {
    const again = await reopen()
    // A stream leaf that answers whole bytes on a later open still reads the same way.
    if ('stream' in again) return again.stream
    let given = false
    return { next: async () => { if (given) return undefined; given = true; return again.bytes }, close: async () => {} }
  }
  const reader = new StreamedReader(output.stream, streamOf, description)
  return { sizeBytes: undefined, read: (pieces) => reader.read(pieces), close: () => reader.close() }
}

export function pluginLeaf(options: PluginLeafOptions): Leaf {
  const { leaf, backend, access } = options
  const name = options.child ?? leaf.name
  let openedUnder: Lifetime | undefined
  const target: PluginTarget = { access, leaf: leaf.name, child: options.child }
  const description = `'${name}' of plugin '${backend.manifest.name}' on ${access.descriptor.kind} ${access.descriptor.name}`
  const helpText = (): Uint8Array => encoder.encode(options.progress.describe(options.identity, leaf.description))
  const hasRead = leaf.read
  const meta = (): LeafMeta => ({
    sizeBytes: hasRead ? undefined : BigInt(helpText().length),
    readable: true,
    writable: leaf.write,
    rpc: leaf.rpc,
    content: leaf.rpc && !hasRead ? 'rpc' : 'text',
  })
  return {
    type: 'leaf',
    identity: options.identity,
    lifetime: leafLifetime(options, () => openedUnder),
    meta,
    open: async (): Promise<OpenedLeaf> => {
      openedUnder = backend.generation()
      const content = hasRead
        ? openedFromOutput(await backend.read(target), () => backend.read(target), description)
        : { sizeBytes: undefined, read: async (pieces: readonly ReadPiece[]) => readSnapshot(helpText(), pieces) }
      return {
        ...content,
        ...(leaf.rpc ? { rpc: (request: unknown, context?: RpcContext) => options.progress.track(options.identity, (sink) => backend.rpc(target, request, relayProgress(sink, context), context?.signal)) } : {}),
        ...(leaf.write ? { write: writeAll(backend, target) } : {}),
      }
    },
  }
}

/** Progress goes both to the leaf's own record and to the caller (the protocol's progress events, as thousandths). */
function relayProgress(sink: ProgressSink, context: RpcContext | undefined): ProgressSink {
  const caller = context?.progress
  if (caller === undefined) return sink
  return (fraction, note) => {
    sink(fraction, note)
    if (Number.isFinite(fraction)) caller(Math.round(Math.min(1, Math.max(0, fraction)) * 1000), 1000, note === undefined ? undefined : { note: String(note).slice(0, 200) })
  }
}

/** Checks a child name a plugin listed: one path segment, printable, bounded. */
export function checkChildName(plugin: string, name: unknown): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > 255 || name === '.' || name === '..' || /[/\0\n]/.test(name)) {
    throw new MemweaveError('plugin', 'malformed', `plugin '${plugin}' listed an invalid child name ${JSON.stringify(String(name)).slice(0, 80)}`)
  }
  return name
}
