/**
 * The PluginContext a sandboxed handler gets: every call goes back to the
 * daemon over the pipe as a callback carrying the call's capability token,
 * and the daemon answers only for the object(s) granted to that call.
 */
import type {
  MemoryRange, ObjectDescriptor, PluginContext, PluginErrorInfo, PluginMapEntry, PluginModuleInfo, PluginReadResult, PluginWriteResult,
} from '../../plugin-api.js'
import type { CallbackBodies, CallbackOp } from './channel.js'
import { isRecord } from '../../../errors/guards.js'

/** An error the daemon answered a callback with, keeping its kind. */
export class CallbackError extends Error {
  constructor(readonly kind: string, message: string) {
    super(message)
    this.name = 'CallbackError'
  }
}

export interface CallbackChannel {
  callback<K extends CallbackOp>(op: K, body: CallbackBodies[K]): Promise<unknown>
  progress(call: number, fraction: number, note: string | undefined): void
}


function errorInfo(value: unknown): PluginErrorInfo {
  const kind = isRecord(value) && typeof value['kind'] === 'string' ? value['kind'] : 'internal'
  const message = isRecord(value) && typeof value['message'] === 'string' ? value['message'] : 'failed'
  return { kind, message }
}

function readResults(value: unknown): PluginReadResult[] {
  if (!Array.isArray(value)) throw new CallbackError('protocol', 'read answered something other than a list')
  return value.map((r): PluginReadResult => (isRecord(r) && r['data'] instanceof Uint8Array
    ? { ok: true, data: r['data'] }
    : { ok: false, error: errorInfo(isRecord(r) ? r['error'] : undefined) }))
}

function writeResults(value: unknown): PluginWriteResult[] {
  if (!Array.isArray(value)) throw new CallbackError('protocol', 'write answered something other than a list')
  return value.map((r): PluginWriteResult => (isRecord(r) && r['ok'] === true
    ? { ok: true }
    : { ok: false, error: errorInfo(isRecord(r) ? r['error'] : undefined) }))
}

function listOf<T>(value: unknown, what: string, guard: (v: unknown) => v is T): T[] {
  if (!Array.isArray(value) || !value.every(guard)) throw new CallbackError('protocol', `${what} answered an unexpected shape`)
  return value
}

const isRange = (v: unknown): v is MemoryRange => isRecord(v) && typeof v['start'] === 'bigint' && typeof v['end'] === 'bigint'
const isMap = (v: unknown): v is PluginMapEntry => isRecord(v) && typeof v['start'] === 'bigint' && typeof v['end'] === 'bigint' && typeof v['perms'] === 'string'
const isModule = (v: unknown): v is PluginModuleInfo => isRecord(v) && typeof v['name'] === 'string' && typeof v['base'] === 'bigint'

function recordOf(value: unknown, what: string): Record<string, unknown> {
  if (!isRecord(value)) throw new CallbackError('protocol', `${what} answered something other than an object`)
  return value
}

function stringRecord(value: unknown): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(recordOf(value, 'environ'))) if (typeof v === 'string') out[k] = v
  return out
}

const PROGRESS_INTERVAL_MS = 100

export function remoteContext(channel: CallbackChannel, call: number, token: string, object: ObjectDescriptor, signal: AbortSignal): PluginContext {
  let lastProgress = 0
  return {
    object,
    signal,
    read: async (pieces, target) => readResults(await channel.callback('read', {
      token, object: target, pieces: pieces.map((p) => ({ addr: BigInt(p.addr), length: Number(p.length) })),
    })),
    write: async (pieces, target) => writeResults(await channel.callback('write', {
      token, object: target, pieces: pieces.map((p) => ({ addr: BigInt(p.addr), data: p.data })),
    })),
    ranges: async () => listOf(await channel.callback('ranges', { token }), 'ranges', isRange),
    maps: async () => listOf(await channel.callback('maps', { token }), 'maps', isMap),
    info: async () => recordOf(await channel.callback('info', { token }), 'info'),
    modules: async () => listOf(await channel.callback('modules', { token }), 'modules', isModule),
    environ: async () => stringRecord(await channel.callback('environ', { token })),
    progress: (fraction, note) => {
      const now = Date.now()
      if (now - lastProgress < PROGRESS_INTERVAL_MS && fraction < 1) return
      lastProgress = now
      channel.progress(call, Number(fraction), note === undefined ? undefined : String(note))
    },
  }
}
