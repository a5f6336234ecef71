/**
 * Messages between the daemon and a sandboxed plugin, one msgpack value per
 * frame. The daemon calls the plugin (open, pull, rpc, …) naming the object
 * and a capability token; the plugin calls back (read, maps, …) with that
 * token, and the daemon answers only for objects granted to it.
 *
 *   daemon ── {id, op:'open', token, object, leaf} ──▶ plugin
 *          ◀── {id, op:'read', token, pieces} ───────  (callback, checked against the grant)
 *          ── {id, result: [{data}|{error}]} ───────▶
 *          ◀── {id, result: {bytes} | {stream}} ─────
 *   daemon ── {op:'load', source} (once, first: the bundle, which the sandbox cannot read from disk)
 *   plugin ── {event:'ready', manifest} (once, first)   {op:'progress', call, fraction}   (notices, no reply)
 *   daemon ── {op:'cancel', call} (the caller cancelled, or the call timed out: its ctx.signal aborts)
 */
import type { ObjectDescriptor } from '../../plugin-api.js'

/** An error crossing the pipe: an error kind name (memweave's table) and a message. */
export interface ChannelError {
  readonly kind: string
  readonly message: string
}

export type ChannelReply = { readonly id: number; readonly result: unknown } | { readonly id: number; readonly error: ChannelError }

/** What the daemon asks of the plugin, by op. */
export interface HostCallBodies {
  open: { readonly token: string; readonly object: ObjectDescriptor; readonly leaf: string; readonly child?: string }
  pull: { readonly stream: number; readonly maxBytes: number }
  close: { readonly stream: number }
  rpc: { readonly token: string; readonly object: ObjectDescriptor; readonly leaf: string; readonly child?: string; readonly request: unknown }
  write: { readonly token: string; readonly object: ObjectDescriptor; readonly leaf: string; readonly child?: string; readonly offset: bigint; readonly data: Uint8Array }
  list: { readonly token: string; readonly object: ObjectDescriptor; readonly leaf: string }
  ping: Record<never, never>
}

/** What each call answers. */
export interface HostCallResults {
  open: { readonly bytes: Uint8Array } | { readonly stream: number }
  pull: { readonly chunk: Uint8Array } | { readonly done: true }
  close: null
  rpc: unknown
  write: null
  list: readonly string[]
  ping: { readonly heapUsedBytes: number }
}

export type HostCallOp = keyof HostCallBodies
export const HOST_CALL_OPS = ['open', 'pull', 'close', 'rpc', 'write', 'list', 'ping'] as const satisfies readonly HostCallOp[]
export type HostCall = { [K in HostCallOp]: { readonly id: number; readonly op: K } & HostCallBodies[K] }[HostCallOp]

export type HostNotice =
  | { readonly op: 'load'; readonly source: string }
  | { readonly op: 'cancel'; readonly call: number }
  | { readonly op: 'event'; readonly event: 'appeared' | 'gone'; readonly object: ObjectDescriptor }

/** Callbacks the plugin may make, each under the token of the call it serves. */
export interface CallbackBodies {
  read: { readonly token: string; readonly object?: ObjectDescriptor; readonly pieces: readonly { readonly addr: bigint; readonly length: number }[] }
  write: { readonly token: string; readonly object?: ObjectDescriptor; readonly pieces: readonly { readonly addr: bigint; readonly data: Uint8Array }[] }
  ranges: { readonly token: string; readonly object?: ObjectDescriptor }
  maps: { readonly token: string; readonly object?: ObjectDescriptor }
  info: { readonly token: string; readonly object?: ObjectDescriptor }
  modules: { readonly token: string; readonly object?: ObjectDescriptor }
  environ: { readonly token: string; readonly object?: ObjectDescriptor }
}

export type CallbackOp = keyof CallbackBodies
export const CALLBACK_OPS = ['read', 'write', 'ranges', 'maps', 'info', 'modules', 'environ'] as const satisfies readonly CallbackOp[]
export type Callback = { [K in CallbackOp]: { readonly id: number; readonly op: K } & CallbackBodies[K] }[CallbackOp]

/** A read or write piece's outcome on the pipe. */
export type ChannelPieceResult = { readonly data: Uint8Array } | { readonly ok: true } | { readonly error: ChannelError }

export type PluginNotice =
  /** The manifest is whatever the plugin sent; the daemon checks it (manifest-check.ts). */
  | { readonly event: 'ready'; readonly manifest: unknown }
  | { readonly event: 'failed'; readonly message: string }
  | { readonly op: 'progress'; readonly call: number; readonly fraction: number; readonly note?: string }

/** Bytes per pull reply; a stream chunk larger than this is split. */
export const PULL_BYTES = 1024 * 1024
