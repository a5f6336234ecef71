/**
 * The entry point of a sandboxed plugin process (argv: MSGPACKR_FILE). The
 * daemon's first frame on fd 3 carries the plugin's bundle (this process
 * may not read it from disk); it is imported from memory (a data: URL, so
 * it can import only node: built-ins and absolute URLs), its manifest is
 * sent, then the daemon's calls are served over fd 3 (length-prefixed msgpack frames):
 * each call names an object and a capability token, and the handler's
 * context turns memory reads into callbacks under that token. It imports
 * only node: built-ins and files of this folder, which is all the
 * permission model lets it read.
 */
import { createRequire } from 'node:module'
import { Socket } from 'node:net'
import type { Packr } from 'msgpackr'
import type { ObjectDescriptor, PluginBranch, PluginContext, PluginDefinition, PluginLeaf } from '../../plugin-api.js'
import type { CallbackBodies, CallbackOp, ChannelError } from './channel.js'
import { FrameDecoder, frameOf } from './frames.js'
import { normalizeContent } from './leaf-content.js'
import { definitionOf, manifestOf } from './manifest.js'
import { CallbackError, remoteContext } from './remote-context.js'
import type { CallbackChannel } from './remote-context.js'
import { isRecord } from '../../../errors/guards.js'

interface Codec {
  pack(value: unknown): Uint8Array
  unpack(bytes: Uint8Array): unknown
}

interface OpenStream {
  readonly chunks: AsyncIterator<Uint8Array>
  readonly abort: AbortController
  rest: Uint8Array | undefined
}


function isPackrModule(value: unknown): value is { Packr: typeof Packr } {
  return isRecord(value) && typeof value['Packr'] === 'function'
}

/** The daemon builds descriptors; this only tells one from garbage. */
function isDescriptor(value: unknown): value is ObjectDescriptor {
  return isRecord(value) && typeof value['name'] === 'string'
    && (value['kind'] === 'process' || value['kind'] === 'module' || value['kind'] === 'os' || value['kind'] === 'connector')
}

function isDefinition(value: unknown): value is PluginDefinition {
  return isRecord(value) && typeof value['name'] === 'string'
}

function loadCodec(path: string): Codec {
  const loaded: unknown = createRequire(import.meta.url)(path)
  if (!isPackrModule(loaded)) throw new Error(`${path} is not msgpackr`)
  const packr = new loaded.Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'bigint', useBigIntExtension: true })
  return { pack: (value) => packr.pack(value), unpack: (bytes) => packr.unpack(bytes) }
}

function errorOf(err: unknown): ChannelError {
  // Node's permission model: say what the sandbox refused, on what.
  if (isRecord(err) && err['code'] === 'ERR_ACCESS_DENIED') {
    const what = typeof err['permission'] === 'string' ? err['permission'] : 'access'
    const resource = typeof err['resource'] === 'string' ? ` of ${err['resource'].slice(0, 200)}` : ''
    return { kind: 'permission', message: `the sandbox refused ${what}${resource} (${err instanceof Error ? err.message : 'access denied'})` }
  }
  const kind = err instanceof CallbackError ? err.kind : isRecord(err) && typeof err['kind'] === 'string' ? err['kind'] : 'internal'
  const message = err instanceof Error ? err.message : isRecord(err) && typeof err['message'] === 'string' ? err['message'] : String(err)
  return { kind, message: message.slice(0, 2000) }
}

function own<T>(table: Readonly<Record<string, T>> | undefined, name: string): T | undefined {
  return table !== undefined && Object.hasOwn(table, name) ? table[name] : undefined
}

function text(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new Error(`call without ${what}`)
  return value
}

const MAX_BYTES_REPLY = 16 * 1024 * 1024

class Runtime implements CallbackChannel {
  private readonly decoder = new FrameDecoder()
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  private readonly calls = new Map<number, AbortController>()
  private readonly streams = new Map<number, OpenStream>()
  private nextId = 1
  private nextStream = 1
  definition: PluginDefinition | undefined
  private loading = false

  constructor(private readonly codec: Codec, private readonly socket: Socket) {}

  send(message: unknown): void {
    for (const part of frameOf(this.codec.pack(message))) this.socket.write(part)
  }

  callback<K extends CallbackOp>(op: K, body: CallbackBodies[K]): Promise<unknown> {
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject })
      this.send({ id, op, ...body })
    })
  }

  progress(call: number, fraction: number, note: string | undefined): void {
    this.send({ op: 'progress', call, fraction, ...(note === undefined ? {} : { note }) })
  }

  receive(chunk: Uint8Array): void {
    for (const frame of this.decoder.push(chunk)) this.dispatch(this.codec.unpack(frame))
  }

  private dispatch(message: unknown): void {
    if (!isRecord(message)) return
    const id = message['id']
    if (typeof id === 'number' && ('result' in message || 'error' in message) && !('op' in message)) {
      const waiter = this.pending.get(id)
      this.pending.delete(id)
      if ('error' in message) { const e = errorOf(message['error']); waiter?.reject(new CallbackError(e.kind, e.message)) } else waiter?.resolve(message['result'])
      return
    }
    if (message['op'] === 'load' && typeof message['source'] === 'string') { this.load(message['source']); return }
    if (message['op'] === 'cancel' && typeof message['call'] === 'number') { this.calls.get(message['call'])?.abort(); return }
    if (message['op'] === 'event') { this.event(message); return }
    if (typeof id !== 'number') return
    const abort = new AbortController()
    this.calls.set(id, abort)
    this.handle(id, message, abort)
      .then((result) => this.send({ id, result }), (err: unknown) => this.send({ id, error: errorOf(err) }))
      .finally(() => this.calls.delete(id))
  }

  /** Imports the bundle the daemon sent (once) and announces the manifest, or why it failed. */
  private load(source: string): void {
    if (this.loading) return
    this.loading = true
    import(`data:text/javascript;base64,${Buffer.from(source).toString('base64')}`)
      .then((module: unknown) => {
        const definition = definitionOf(module)
        const manifest = manifestOf(definition)
        if (!isDefinition(definition)) throw new Error('the exported plugin has no name')
        this.definition = definition
        this.send({ event: 'ready', manifest })
      })
      .catch((err: unknown) => {
        this.send({ event: 'failed', message: errorOf(err).message })
        setTimeout(() => process.exit(1), 100)
      })
  }

  private event(message: Record<string, unknown>): void {
    const definition = this.definition
    const kind = message['event']
    const object = message['object']
    if (definition?.onEvent === undefined || (kind !== 'appeared' && kind !== 'gone') || !isDescriptor(object)) return
    Promise.resolve()
      .then(() => definition.onEvent?.({ event: kind, object }))
      .catch((err: unknown) => { process.stderr.write(`onEvent failed: ${errorOf(err).message}\n`) })
  }

  private context(id: number, message: Record<string, unknown>, signal: AbortSignal): PluginContext {
    const object = message['object']
    if (!isDescriptor(object)) throw new Error('call without object')
    return remoteContext(this, id, text(message['token'], 'token'), object, signal)
  }

  private leaf(name: string): PluginLeaf {
    const handler = own(this.definition?.leaves, name)
    if (handler === undefined) throw new Error(`no leaf '${name}'`)
    return handler
  }

  private branch(name: string): PluginBranch {
    const handler = own(this.definition?.branches, name)
    if (handler === undefined) throw new Error(`no branch '${name}'`)
    return handler
  }

  private async handle(id: number, message: Record<string, unknown>, abort: AbortController): Promise<unknown> {
    const leaf = typeof message['leaf'] === 'string' ? message['leaf'] : ''
    const child = typeof message['child'] === 'string' ? message['child'] : undefined
    switch (message['op']) {
      case 'ping': return { heapUsedBytes: process.memoryUsage().heapUsed }
      case 'open': {
        const ctx = this.context(id, message, abort.signal)
        const content = child === undefined
          ? await this.leaf(leaf).read?.(ctx)
          : await this.branch(leaf).read?.(ctx, child)
        if (content === undefined) throw new Error(`'${child ?? leaf}' has no read handler`)
        const normalized = normalizeContent(content)
        if ('bytes' in normalized && normalized.bytes.length <= MAX_BYTES_REPLY) return { bytes: normalized.bytes }
        const chunks = 'chunks' in normalized ? normalized.chunks : (async function* () { yield normalized.bytes })()
        const stream = this.nextStream++
        // The stream outlives this call: its own controller aborts when the daemon closes it.
        this.streams.set(stream, { chunks, abort, rest: undefined })
        this.calls.delete(id)
        return { stream }
      }
      case 'pull': return this.pull(message)
      case 'close': {
        const stream = this.streams.get(Number(message['stream']))
        this.streams.delete(Number(message['stream']))
        stream?.abort.abort()
        await stream?.chunks.return?.()
        return null
      }
      case 'rpc': {
        const ctx = this.context(id, message, abort.signal)
        return child === undefined ? this.leaf(leaf).rpc?.(ctx, message['request']) : this.branch(leaf).rpc?.(ctx, child, message['request'])
      }
      case 'write': {
        const data = message['data']
        const offset = message['offset']
        if (!(data instanceof Uint8Array) || typeof offset !== 'bigint') throw new Error('write without data or offset')
        await this.leaf(leaf).write?.(this.context(id, message, abort.signal), data, offset)
        return null
      }
      case 'list': return [...(await this.branch(leaf).list(this.context(id, message, abort.signal)))]
      default: throw new Error(`unknown op ${String(message['op'])}`)
    }
  }

  private async pull(message: Record<string, unknown>): Promise<unknown> {
    const stream = this.streams.get(Number(message['stream']))
    if (stream === undefined) throw new Error(`no stream ${String(message['stream'])}`)
    const maxBytes = Math.max(1, Math.min(Number(message['maxBytes']) || MAX_BYTES_REPLY, MAX_BYTES_REPLY))
    let chunk = stream.rest
    stream.rest = undefined
    if (chunk === undefined) {
      const step = await stream.chunks.next()
      if (step.done === true) { this.streams.delete(Number(message['stream'])); return { done: true } }
      chunk = step.value
    }
    if (chunk.length > maxBytes) { stream.rest = chunk.subarray(maxBytes); chunk = chunk.subarray(0, maxBytes) }
    return { chunk }
  }
}

function main(): void {
  const [codecPath] = process.argv.slice(2)
  if (codecPath === undefined) throw new Error('usage: plugin-runtime MSGPACKR_FILE (the plugin arrives on fd 3)')
  const socket = new Socket({ fd: 3, readable: true, writable: true })
  const runtime = new Runtime(loadCodec(codecPath), socket)
  socket.on('data', (chunk: Buffer) => {
    try {
      runtime.receive(chunk)
    } catch (err) {
      process.stderr.write(`bad frame from the daemon: ${errorOf(err).message}\n`)
      process.exit(2)
    }
  })
  // The daemon closed the pipe (it stopped, or removed this plugin): nothing left to serve.
  socket.on('close', () => process.exit(0))
  socket.on('error', () => process.exit(0))
  process.on('unhandledRejection', (err) => { process.stderr.write(`unhandled rejection in plugin: ${errorOf(err).message}\n`) })
}

try {
  main()
} catch (err) {
  process.stderr.write(`plugin runtime failed: ${errorOf(err).message}\n`)
  process.exit(1)
}
