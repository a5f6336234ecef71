/**
 * The server's view of an incoming message: turns a decoded msgpack value
 * into a typed Request, or says what was wrong and, when the id could be
 * read, which request to answer with the error.
 */
import { MemweaveError } from '../errors/index.js'
import { MAX_PATH_BYTES } from '../tree/index.js'
import {
  arrayField, bigintValue, booleanField, bytesValue, describe, field, fieldsOf, isFields, optionalStringField, protocolError, stringField, uintField,
} from './field-guards.js'
import type { Fields } from './field-guards.js'
import { OPS } from './messages.js'
import type { Op, Request, RequestBodies, WireReadPiece, WireWritePiece } from './messages.js'

export type ParsedRequest =
  | { readonly ok: true; readonly request: Request }
  | { readonly ok: false; readonly id: number | undefined; readonly error: MemweaveError }

const MAX_ID = 2 ** 53 - 1
const MAX_HANDLE = 2 ** 32 - 1
const MAX_TOKEN_LENGTH = 4096
const MAX_CHAIN = 64
const MAX_DATA_PATH = 4096
const MAX_DATA_KEY = 256
const MAX_RING_POSITION = 2 ** 32 - 1

function isOp(value: unknown): value is Op {
  return typeof value === 'string' && (OPS as readonly string[]).includes(value)
}

/** `maxPieces` is checked before the pieces are walked, so a huge array costs nothing more. */
export function parseRequest(value: unknown, maxPieces: number): ParsedRequest {
  if (!isFields(value)) return { ok: false, id: undefined, error: protocolError(`a request must be a map, got ${describe(value)}`) }
  const rawId = field(value, 'id')
  const id = typeof rawId === 'number' && Number.isInteger(rawId) && rawId >= 0 && rawId <= MAX_ID ? rawId : undefined
  if (id === undefined) return { ok: false, id: undefined, error: protocolError(`request.id must be an integer in 0..2^53, got ${describe(rawId)}`) }
  try {
    return { ok: true, request: parseBody(id, value, maxPieces) }
  } catch (err) {
    const error = err instanceof MemweaveError ? err : new MemweaveError('net', 'protocol', `request ${id} is malformed`, { cause: err })
    return { ok: false, id, error }
  }
}

function parseBody(id: number, fields: Fields, maxPieces: number): Request {
  const op = field(fields, 'op')
  if (!isOp(op)) {
    throw protocolError(typeof op === 'string' ? `unknown op '${op.slice(0, 32)}' (known: ${OPS.join(', ')})` : `request.op must be a string, got ${describe(op)}`)
  }
  const where = `${op} request`
  switch (op) {
    case 'hello': return { id, op, ...parseHello(fields) }
    case 'list': case 'stat':
      return { id, op, path: stringField(fields, 'path', where, MAX_PATH_BYTES), ...viaOf(fields, where) }
    case 'watch': {
      // 1.4; older clients never send it.
      const objects = field(fields, 'objects') === undefined || field(fields, 'objects') === null ? {} : { objects: booleanField(fields, 'objects', where) }
      return { id, op, path: stringField(fields, 'path', where, MAX_PATH_BYTES), ...viaOf(fields, where), ...objects }
    }
    case 'open': {
      // 1.3; a 1.2 client never sends it.
      const exclusive = field(fields, 'exclusive') === undefined || field(fields, 'exclusive') === null ? {} : { exclusive: booleanField(fields, 'exclusive', where) }
      return { id, op, path: stringField(fields, 'path', where, MAX_PATH_BYTES), ...viaOf(fields, where), ...exclusive }
    }
    case 'read': {
      const consumed = field(fields, 'consumed') === undefined ? {} : { consumed: uintField(fields, 'consumed', where, MAX_RING_POSITION) }
      // 1.6; older clients never send it.
      const channel = field(fields, 'channel') === undefined || field(fields, 'channel') === null ? {} : { channel: booleanField(fields, 'channel', where) }
      return { id, op, handle: uintField(fields, 'handle', where, MAX_HANDLE), pieces: readPieces(fields, maxPieces), ...consumed, ...channel }
    }
    case 'write': return { id, op, handle: uintField(fields, 'handle', where, MAX_HANDLE), pieces: writePieces(fields, maxPieces) }
    case 'rpc': return { id, op, handle: uintField(fields, 'handle', where, MAX_HANDLE), request: field(fields, 'request') }
    case 'close': return { id, op, handle: uintField(fields, 'handle', where, MAX_HANDLE) }
    case 'unwatch': return { id, op, watchId: uintField(fields, 'watchId', where, MAX_HANDLE) }
    case 'ping': case 'ticket': case 'channel': return { id, op }
    case 'cancel': return { id, op, target: uintField(fields, 'target', where, MAX_ID) }
    case 'download': {
      const offset = field(fields, 'offset') === undefined || field(fields, 'offset') === null ? {} : { offset: bigintValue(field(fields, 'offset'), `${where}.offset`) }
      const length = field(fields, 'length') === undefined || field(fields, 'length') === null ? {} : { length: bigintValue(field(fields, 'length'), `${where}.length`) }
      const name = optionalStringField(fields, 'name', where, 255)
      return { id, op, path: stringField(fields, 'path', where, MAX_PATH_BYTES), ...offset, ...length, ...(name === undefined ? {} : { name }) }
    }
    case 'get': {
      const maxBytes = field(fields, 'maxBytes') === undefined || field(fields, 'maxBytes') === null ? {} : { maxBytes: uintField(fields, 'maxBytes', where) }
      return { id, op, paths: getPaths(fields, maxPieces), ...maxBytes }
    }
  }
}

/** A get's paths: at most maxPieces, each a path string. */
function getPaths(fields: Fields, maxPieces: number): string[] {
  const paths = arrayField(fields, 'paths', 'get request')
  if (paths.length > maxPieces) throw new MemweaveError('net', 'too_large', `get of ${paths.length} paths exceeds the limit of ${maxPieces}`)
  return paths.map((path, i) => {
    if (typeof path !== 'string' || path.length > MAX_PATH_BYTES) throw protocolError(`get request.paths[${i}] must be a path string of at most ${MAX_PATH_BYTES} characters`)
    return path
  })
}

/** The optional hop chain of a forwarded path request; absent (or nil) for a direct client. */
function viaOf(fields: Fields, where: string): { via?: readonly string[] } {
  const raw = field(fields, 'via')
  if (raw === undefined || raw === null) return {}
  return { via: nodeIds(arrayField(fields, 'via', where), `${where}.via`) }
}

function nodeIds(list: readonly unknown[], where: string): string[] {
  if (list.length > MAX_CHAIN) throw protocolError(`${where} has more than ${MAX_CHAIN} nodes`)
  return list.map((node, i) => {
    if (typeof node !== 'string' || node.length > 256) throw protocolError(`${where}[${i}] must be a node id string`)
    return node
  })
}

function parseHello(fields: Fields): RequestBodies['hello'] {
  const version = fieldsOf(field(fields, 'version'), 'hello.version')
  const parsed = {
    version: { major: uintField(version, 'major', 'hello.version', 0xffff), minor: uintField(version, 'minor', 'hello.version', 0xffff) },
    token: optionalStringField(fields, 'token', 'hello', MAX_TOKEN_LENGTH),
    ...ticketOf(fields),
    ...dataRingOffer(fields),
  }
  const rawClient = field(fields, 'client')
  if (rawClient === undefined) return parsed
  const client = fieldsOf(rawClient, 'hello.client')
  const rawChain = field(client, 'chain')
  let chain: string[] | undefined
  if (rawChain !== undefined) chain = nodeIds(arrayField(client, 'chain', 'hello.client'), 'hello.client.chain')
  return { ...parsed, client: { name: optionalStringField(client, 'name', 'hello.client', 256), chain } }
}

/** The optional one-time ticket (1.2), absent rather than undefined when not given. */
function ticketOf(fields: Fields): { ticket?: string } {
  const ticket = optionalStringField(fields, 'ticket', 'hello', MAX_TOKEN_LENGTH)
  return ticket === undefined ? {} : { ticket }
}

/** The optional ring offer (1.1); its contents are judged when the file is opened (server-data-ring.ts). */
function dataRingOffer(fields: Fields): { dataPath?: string; dataKey?: Uint8Array } {
  const dataPath = optionalStringField(fields, 'dataPath', 'hello', MAX_DATA_PATH)
  if (dataPath === undefined) return {}
  const dataKey = bytesValue(field(fields, 'dataKey'), 'hello.dataKey')
  if (dataKey.length > MAX_DATA_KEY) throw protocolError(`hello.dataKey is longer than ${MAX_DATA_KEY} bytes`)
  return { dataPath, dataKey }
}

function piecesOf(fields: Fields, maxPieces: number): readonly unknown[] {
  const pieces = arrayField(fields, 'pieces', 'request')
  if (pieces.length > maxPieces) {
    throw new MemweaveError('net', 'too_large', `batch of ${pieces.length} pieces exceeds the limit of ${maxPieces}`)
  }
  return pieces
}

function readPieces(fields: Fields, maxPieces: number): WireReadPiece[] {
  return piecesOf(fields, maxPieces).map((raw, i) => {
    const piece = fieldsOf(raw, `pieces[${i}]`)
    return { addr: bigintValue(field(piece, 'addr'), `pieces[${i}].addr`), length: uintField(piece, 'length', `pieces[${i}]`) }
  })
}

function writePieces(fields: Fields, maxPieces: number): WireWritePiece[] {
  return piecesOf(fields, maxPieces).map((raw, i) => {
    const piece = fieldsOf(raw, `pieces[${i}]`)
    return { addr: bigintValue(field(piece, 'addr'), `pieces[${i}].addr`), data: bytesValue(field(piece, 'data'), `pieces[${i}].data`) }
  })
}
