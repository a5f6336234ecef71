/**
 * What a sandboxed plugin sends, checked once and turned into the channel's
 * types (runtime/channel.ts): a notice (ready, failed, progress), a reply to
 * one of the daemon's calls, or a callback. The plugin is untrusted, so
 * every field is checked here; what does not fit is a protocol violation
 * (the run is killed) or, for progress of an unknown call, dropped. A
 * callback's body (token, object, pieces) is checked where it is served,
 * against the call's grant (grants.ts).
 */
import { isErrorKind, isRecord } from '../../errors/index.js'
import { CALLBACK_OPS } from './runtime/channel.js'
import type { CallbackOp, ChannelError, ChannelReply, PluginNotice } from './runtime/channel.js'

export type FromPlugin =
  | { readonly type: 'notice'; readonly notice: PluginNotice }
  | { readonly type: 'reply'; readonly reply: ChannelReply }
  | { readonly type: 'callback'; readonly id: number; readonly op: CallbackOp; readonly body: Readonly<Record<string, unknown>> }
  /** Well-formed enough to ignore (progress without a call or a fraction). */
  | { readonly type: 'ignored' }
  | { readonly type: 'violation'; readonly why: string }

/** Longest failure reason and error message kept from a plugin. */
const MAX_REASON_CHARS = 500
const MAX_ERROR_CHARS = 1000

function isCallbackOp(value: unknown): value is CallbackOp {
  return typeof value === 'string' && (CALLBACK_OPS as readonly string[]).includes(value)
}

/** An error a plugin reports: a known kind (else internal) and a bounded message. */
function replyError(error: unknown): ChannelError {
  return {
    kind: isRecord(error) && isErrorKind(error['kind']) ? error['kind'] : 'internal',
    message: isRecord(error) && typeof error['message'] === 'string' ? error['message'].slice(0, MAX_ERROR_CHARS) : 'failed',
  }
}

export function parsePluginMessage(message: unknown): FromPlugin {
  if (!isRecord(message)) return { type: 'violation', why: 'a message that is not a map' }
  const id = message['id']
  const op = message['op']
  if (message['event'] === 'ready') return { type: 'notice', notice: { event: 'ready', manifest: message['manifest'] } }
  if (message['event'] === 'failed') {
    const reason = typeof message['message'] === 'string' ? message['message'].slice(0, MAX_REASON_CHARS) : 'unknown reason'
    return { type: 'notice', notice: { event: 'failed', message: reason } }
  }
  if (op === 'progress') {
    const call = message['call']
    const fraction = message['fraction']
    if (typeof call !== 'number' || typeof fraction !== 'number') return { type: 'ignored' }
    const note = typeof message['note'] === 'string' ? message['note'] : undefined
    return { type: 'notice', notice: { op: 'progress', call, fraction, ...(note === undefined ? {} : { note }) } }
  }
  if (typeof id === 'number' && op === undefined && ('result' in message || 'error' in message)) {
    const error = message['error']
    return { type: 'reply', reply: error === undefined ? { id, result: message['result'] } : { id, error: replyError(error) } }
  }
  if (typeof id === 'number' && isCallbackOp(op)) return { type: 'callback', id, op, body: message }
  return { type: 'violation', why: `unexpected message${typeof op === 'string' ? ` '${op.slice(0, 40)}'` : ''}` }
}
