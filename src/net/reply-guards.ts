/**
 * The client's view of what a server sends: replies, events and each op's
 * result, checked field by field (a daemon is also a client of its peers,
 * and a peer is not trusted more than a client). Sizes come back as bigint
 * whatever integer encoding the server used.
 */
import type { Entry, LeafContent, LeafMeta, OpenResult, Stat } from '../tree/index.js'
import { MAX_PATH_BYTES } from '../tree/index.js'
import {
  bigintValue, booleanField, bytesValue, describe, field, fieldsOf, protocolError, stringField, uintField,
} from './field-guards.js'
import type { Fields } from './field-guards.js'
import type { DataRingAnswer, Op, ProtocolVersion, ResultBodies, ServerEvent, ServerHello, WireError, WireLimits, WireGetResult, WireReadResult, WireWriteResult } from './messages.js'

export type ParsedServerMessage =
  | { readonly kind: 'result'; readonly id: number; readonly result: unknown }
  | { readonly kind: 'error'; readonly id: number; readonly error: WireError }
  | { readonly kind: 'event'; readonly event: ServerEvent }

const MAX_TEXT = 1 << 20
const MAX_CHAIN = 64
const CONTENTS: readonly LeafContent[] = ['mem', 'text', 'binary', 'control', 'rpc']

export function parseServerMessage(value: unknown): ParsedServerMessage {
  const message = fieldsOf(value, 'server message')
  const event = field(message, 'event')
  if (event === 'change') {
    const via = optionalNodeIds(message, 'via', 'change event')
    return {
      kind: 'event',
      event: { event, watchId: uintField(message, 'watchId', 'change event'), path: stringField(message, 'path', 'change event', MAX_TEXT), ...(via === undefined ? {} : { via }) },
    }
  }
  if (event === 'protocol-error') return { kind: 'event', event: { event, error: parseWireError(field(message, 'error')) } }
  if (event === 'progress') {
    const detail = field(message, 'detail')
    return {
      kind: 'event',
      event: {
        event, id: uintField(message, 'id', 'progress event'), done: uintField(message, 'done', 'progress event'), total: uintField(message, 'total', 'progress event'),
        ...(detail === undefined || detail === null ? {} : { detail: fieldsOf(detail, 'progress event.detail') }),
      },
    }
  }
  if (event === 'stale') {
    return { kind: 'event', event: { event, handle: uintField(message, 'handle', 'stale event'), reason: stringField(message, 'reason', 'stale event', MAX_TEXT) } }
  }
  if (event !== undefined) throw protocolError(`unknown event ${typeof event === 'string' ? `'${event.slice(0, 32)}'` : describe(event)}`)
  const id = uintField(message, 'id', 'reply')
  if (Object.hasOwn(message, 'error')) return { kind: 'error', id, error: parseWireError(field(message, 'error')) }
  return { kind: 'result', id, result: field(message, 'result') }
}

export function parseWireError(value: unknown): WireError {
  const error = fieldsOf(value, 'error')
  return { code: uintField(error, 'code', 'error'), message: stringField(error, 'message', 'error', MAX_TEXT) }
}

function optionalSize(fields: Fields, key: string, where: string): bigint | undefined {
  const value = field(fields, key)
  return value === undefined || value === null ? undefined : bigintValue(value, `${where}.${key}`)
}

export function parseLeafMeta(value: unknown, where: string): LeafMeta {
  const meta = fieldsOf(value, where)
  const content = field(meta, 'content')
  if (typeof content !== 'string' || !(CONTENTS as readonly string[]).includes(content)) throw protocolError(`${where}.content is not a known content type`)
  return {
    sizeBytes: optionalSize(meta, 'sizeBytes', where),
    readable: booleanField(meta, 'readable', where),
    writable: booleanField(meta, 'writable', where),
    rpc: booleanField(meta, 'rpc', where),
    content: CONTENTS.find((c) => c === content) ?? 'binary',
  }
}

function nodeType(fields: Fields, where: string): 'leaf' | 'branch' {
  const type = field(fields, 'type')
  if (type !== 'leaf' && type !== 'branch') throw protocolError(`${where}.type must be 'leaf' or 'branch'`)
  return type
}

function parseEntries(value: unknown): Entry[] {
  if (!Array.isArray(value)) throw protocolError(`list result must be an array, got ${describe(value)}`)
  return value.map((raw: unknown, i) => {
    const where = `entries[${i}]`
    const entry = fieldsOf(raw, where)
    const base = { name: stringField(entry, 'name', where, MAX_TEXT), type: nodeType(entry, where) }
    const meta = field(entry, 'meta')
    return meta === undefined || meta === null ? base : { ...base, meta: parseLeafMeta(meta, `${where}.meta`) }
  })
}

function parseStat(value: unknown): Stat {
  const stat = fieldsOf(value, 'stat result')
  const base = { path: stringField(stat, 'path', 'stat result', MAX_TEXT), type: nodeType(stat, 'stat result') }
  const meta = field(stat, 'meta')
  return meta === undefined || meta === null ? base : { ...base, meta: parseLeafMeta(meta, 'stat result.meta') }
}

/** Node ids or handle names (a hop chain): at most MAX_CHAIN short strings; absent or nil is undefined. */
function optionalNodeIds(fields: Fields, key: string, where: string): string[] | undefined {
  const value = field(fields, key)
  if (value === undefined || value === null) return undefined
  if (!Array.isArray(value) || value.length > MAX_CHAIN) throw protocolError(`${where}.${key} must be an array of at most ${MAX_CHAIN} strings`)
  return value.map((item: unknown, i) => {
    if (typeof item !== 'string' || item.length > 256) throw protocolError(`${where}.${key}[${i}] must be a short string`)
    return item
  })
}

function parseOpen(value: unknown): OpenResult {
  const open = fieldsOf(value, 'open result')
  const chain = optionalNodeIds(open, 'chain', 'open result')
  return {
    handle: uintField(open, 'handle', 'open result'),
    meta: parseLeafMeta(field(open, 'meta'), 'open result.meta'),
    sizeBytes: optionalSize(open, 'sizeBytes', 'open result'),
    ...(chain === undefined ? {} : { chain }),
  }
}

function parseReadResults(value: unknown): WireReadResult[] {
  if (!Array.isArray(value)) throw protocolError(`read result must be an array, got ${describe(value)}`)
  return value.map((raw: unknown, i) => {
    const piece = fieldsOf(raw, `read result[${i}]`)
    if (Object.hasOwn(piece, 'error')) return { error: parseWireError(field(piece, 'error')) }
    return { data: bytesValue(field(piece, 'data'), `read result[${i}].data`) }
  })
}

function parseGetResults(value: unknown): WireGetResult[] {
  if (!Array.isArray(value)) throw protocolError(`get result must be an array, got ${describe(value)}`)
  return value.map((raw: unknown, i) => {
    const leaf = fieldsOf(raw, `get result[${i}]`)
    const path = stringField(leaf, 'path', `get result[${i}]`, MAX_PATH_BYTES)
    if (Object.hasOwn(leaf, 'error')) return { path, error: parseWireError(field(leaf, 'error')) }
    return { path, data: bytesValue(field(leaf, 'data'), `get result[${i}].data`) }
  })
}

function parseWriteResults(value: unknown): WireWriteResult[] {
  if (!Array.isArray(value)) throw protocolError(`write result must be an array, got ${describe(value)}`)
  return value.map((raw: unknown, i) => {
    const piece = fieldsOf(raw, `write result[${i}]`)
    if (Object.hasOwn(piece, 'error')) return { error: parseWireError(field(piece, 'error')) }
    if (field(piece, 'ok') !== true) throw protocolError(`write result[${i}] has neither ok nor error`)
    return { ok: true }
  })
}

function parseVersion(value: unknown, where: string): ProtocolVersion {
  const version = fieldsOf(value, where)
  return { major: uintField(version, 'major', where), minor: uintField(version, 'minor', where) }
}

function parseLimits(value: unknown): WireLimits {
  const limits = fieldsOf(value, 'hello.limits')
  return {
    maxMessageBytes: uintField(limits, 'maxMessageBytes', 'hello.limits'),
    maxPieces: uintField(limits, 'maxPieces', 'hello.limits'),
    maxBatchBytes: uintField(limits, 'maxBatchBytes', 'hello.limits'),
    maxInFlight: uintField(limits, 'maxInFlight', 'hello.limits'),
  }
}

function parseHello(value: unknown): ServerHello {
  const hello = fieldsOf(value, 'hello result')
  const dataRing = field(hello, 'dataRing')
  return {
    version: parseVersion(field(hello, 'version'), 'hello.version'),
    nodeId: stringField(hello, 'nodeId', 'hello', 256),
    connection: stringField(hello, 'connection', 'hello', 256),
    limits: parseLimits(field(hello, 'limits')),
    node: fieldsOf(field(hello, 'node'), 'hello.node'),
    ...(dataRing === undefined || dataRing === null ? {} : { dataRing: parseDataRingAnswer(dataRing) }),
    ...(field(hello, 'dataChannel') === true ? { dataChannel: true } : {}),
  }
}

function parseDataRingAnswer(value: unknown): DataRingAnswer {
  const answer = fieldsOf(value, 'hello.dataRing')
  if (booleanField(answer, 'accepted', 'hello.dataRing')) return { accepted: true, sizeBytes: uintField(answer, 'sizeBytes', 'hello.dataRing') }
  return { accepted: false, reason: stringField(answer, 'reason', 'hello.dataRing', MAX_TEXT) }
}

function nullResult(value: unknown): null {
  if (value !== null && value !== undefined) throw protocolError(`expected an empty result, got ${describe(value)}`)
  return null
}

/** One checker per op; the client runs the reply's result through the one for its request. */
export const RESULT_PARSERS: { readonly [K in Op]: (value: unknown) => ResultBodies[K] } = {
  hello: parseHello,
  list: parseEntries,
  stat: parseStat,
  open: parseOpen,
  read: parseReadResults,
  get: parseGetResults,
  write: parseWriteResults,
  rpc: (value) => value,
  close: nullResult,
  watch: (value) => ({ watchId: uintField(fieldsOf(value, 'watch result'), 'watchId', 'watch result') }),
  unwatch: nullResult,
  ticket: (value) => {
    const grant = fieldsOf(value, 'ticket result')
    const pages = field(grant, 'pages')
    if (!Array.isArray(pages) || !pages.every((p): p is string => typeof p === 'string')) throw protocolError('ticket result.pages must be a list of URLs')
    return { ticket: stringField(grant, 'ticket', 'ticket result', 256), expiresInMs: uintField(grant, 'expiresInMs', 'ticket result'), pages }
  },
  cancel: nullResult,
  channel: (value) => {
    const grant = fieldsOf(value, 'channel result')
    return { ticket: stringField(grant, 'ticket', 'channel result', 256), expiresInMs: uintField(grant, 'expiresInMs', 'channel result') }
  },
  download: (value) => {
    const grant = fieldsOf(value, 'download result')
    const size = optionalSize(grant, 'sizeBytes', 'download result')
    return {
      ticket: stringField(grant, 'ticket', 'download result', 256), expiresInMs: uintField(grant, 'expiresInMs', 'download result'),
      action: stringField(grant, 'action', 'download result', 1024), ...(size === undefined ? {} : { sizeBytes: size }),
    }
  },
  ping: (value) => {
    const ping = fieldsOf(value, 'ping result')
    const timeMs = field(ping, 'timeMs')
    if (typeof timeMs !== 'number') throw protocolError('ping result.timeMs must be a number')
    return { timeMs }
  },
}
