/**
 * The node protocol's messages, typed once here and shared by the server,
 * the Node client (peers use it too) and the web page's browser client
 * (frontends/web/page/protocol.ts, type imports only). Every message is one msgpack
 * value in one binary WebSocket message; bytes travel as msgpack `bin`,
 * addresses and sizes as 64-bit integers (bigint).
 *
 *   client ── {id, op:'hello', version, token?} ──▶ server   (first, exactly once)
 *          ◀── {id, result: ServerHello} | {id, error}
 *          ── {id, op, ...fields} ──▶                         (pipelined, any order back)
 *          ◀── {id, result} | {id, error}
 *          ◀── {event:'change', watchId, path}                (pushed, no id)
 *
 * Over a unix socket (1.1), hello may offer a ring file on tmpfs
 * (`dataPath`, `dataKey`); if the daemon accepts (`dataRing` in its hello),
 * big read pieces come back as `{ring, length}`: the bytes are in the file,
 * and the client reports with each read how far it has `consumed` them.
 *
 * Over TCP (1.6), a client may open a data channel beside the WebSocket
 * (data-channel.ts): reads that ask for it (`channel: true`) are answered
 * there as raw bytes behind a small header.
 *
 * A daemon can be a client of another daemon: `hello.client.chain` lists the
 * node ids a connection already went through, so loops are refused, and
 * handles are plain numbers a forwarding node maps to (peer, peer handle).
 * Path requests a node forwards carry `via` (node ids already passed, in
 * order; a node refuses a request that names it), and events carry the
 * nodes they came through (rules in src/node/peers/hop-rules.ts).
 */
import type { Entry, OpenResult, Stat } from '../tree/index.js'

export interface ProtocolVersion {
  readonly major: number
  readonly minor: number
}

/**
 * A different major is refused at hello; minors only add optional fields and ops.
 * 1.1: the shared data ring for unix-socket clients (hello dataPath/dataKey, ServerHello.dataRing,
 * read `consumed`, read results `{ring, length}`); see data-ring.ts.
 * 1.2: browser sessions: the `ticket` op (a one-time ticket a browser trades at hello, `hello.ticket`),
 * `cancel` of a running request, `progress` events keyed by request id (an rpc that reports them,
 * such as a scan), and a pushed `stale` event for a handle whose object went away.
 * 1.5: the `get` op (whole small leaves by path, `*` for every name of a branch, in one request).
 * 1.6: the TCP data channel (data-channel.ts): ServerHello.dataChannel, the `channel` op (a one-time
 * ticket for a raw socket on the same listener), and read `channel: true` (the reply comes on it).
 */
export const PROTOCOL_VERSION: ProtocolVersion = { major: 1, minor: 6 }

export function formatVersion(version: ProtocolVersion): string {
  return `${version.major}.${version.minor}`
}

/** An error on the wire: MemweaveError.code (origin * 1000 + kind) and its message. */
export interface WireError {
  readonly code: number
  readonly message: string
}

export interface ClientIdentity {
  /** Free text for logs: 'cli', 'fuse', 'web', 'peer:NAME'. */
  readonly name?: string
  /** Node ids this connection already passed through (peers forward it; loops are refused). In code this hop list is `via`; the wire name stays. */
  readonly chain?: readonly string[]
}

/** Limits the server enforces; a well-behaved client splits and queues to stay within them. */
export interface WireLimits {
  readonly maxMessageBytes: number
  readonly maxPieces: number
  readonly maxBatchBytes: number
  readonly maxInFlight: number
}

export interface ServerHello {
  readonly version: ProtocolVersion
  /** Random per daemon run unless the node names itself; peers use it for loop detection. */
  readonly nodeId: string
  /** This connection's owner id on the server (handles are counted per owner). */
  readonly connection: string
  readonly limits: WireLimits
  /** Whatever the daemon reports about itself (program version, pid, kinds, …). */
  readonly node: Readonly<Record<string, unknown>>
  /** The answer to a hello that offered a data ring (absent otherwise, and from 1.0 daemons). */
  readonly dataRing?: DataRingAnswer
  /** 1.6: this TCP session may open a data channel (the `channel` op); absent on unix sockets, for browsers and from older daemons. */
  readonly dataChannel?: boolean
}

/** Whether the daemon will write big read replies into the client's ring file, and why not. */
export type DataRingAnswer =
  | { readonly accepted: true; readonly sizeBytes: number }
  | { readonly accepted: false; readonly reason: string }

export interface WireReadPiece {
  readonly addr: bigint
  readonly length: number
}

export interface WireWritePiece {
  readonly addr: bigint
  readonly data: Uint8Array
}

/** `ring`: the piece's bytes are in the shared data ring at this ring position (see data-ring.ts). */
export type WireReadResult = { readonly data: Uint8Array } | { readonly ring: number; readonly length: number } | { readonly error: WireError }
export type WireWriteResult = { readonly ok: true } | { readonly error: WireError }
/** 1.5: one leaf of a `get`: its whole content, or why not (a leaf fails alone). */
export type WireGetResult = { readonly path: string; readonly data: Uint8Array } | { readonly path: string; readonly error: WireError }

/** Each op's request fields (besides id and op). */
export interface RequestBodies {
  hello: {
    readonly version: ProtocolVersion
    readonly token?: string
    /** 1.2: a one-time ticket from the `ticket` op, instead of a token (how a browser page gets in). */
    readonly ticket?: string
    readonly client?: ClientIdentity
    /** A unix-socket client's ring file on tmpfs (0600, its own), and the key written in its header. */
    readonly dataPath?: string
    readonly dataKey?: Uint8Array
  }
  list: { readonly path: string; readonly via?: readonly string[] }
  stat: { readonly path: string; readonly via?: readonly string[] }
  /** 1.3: `exclusive` refuses the open while another owner holds the leaf, and other opens while it is held. */
  open: { readonly path: string; readonly via?: readonly string[]; readonly exclusive?: boolean }
  /** `consumed`: with a data ring, the ring position up to which the client has copied its replies out. */
  read: { readonly handle: number; readonly pieces: readonly WireReadPiece[]; readonly consumed?: number; readonly channel?: boolean }
  write: { readonly handle: number; readonly pieces: readonly WireWritePiece[] }
  rpc: { readonly handle: number; readonly request: unknown }
  close: { readonly handle: number }
  /** objects (1.4): send `appeared`/`gone` events for the objects a change names, instead of that `change`. */
  watch: { readonly path: string; readonly via?: readonly string[]; readonly objects?: boolean }
  unwatch: { readonly watchId: number }
  ping: Record<never, never>
  /** 1.2: a one-time ticket for a browser session with this connection's rights. */
  ticket: Record<never, never>
  /** 1.2: stop the request with this id (its reply is then a 'cancelled' error); unknown or finished ids are ignored. */
  cancel: { readonly target: number }
  /**
   * 1.4: a one-time ticket to fetch a readable leaf, or [offset, offset+length) of it, by HTTP POST to this
   * TCP listener (DownloadGrant.action), streamed; `name` is the file name to suggest (letters, digits, `._-`).
   */
  download: { readonly path: string; readonly offset?: bigint; readonly length?: bigint; readonly name?: string }
  /**
   * 1.5: whole text or binary leaves by path in one request (open, read, close each, on the daemon); a segment `*`
   * stands for every name of its branch. `maxBytes` bounds each leaf (1 MiB unless given).
   */
  get: { readonly paths: readonly string[]; readonly maxBytes?: number }
  /** 1.6: a one-time ticket for this session's data channel (TCP only; see data-channel.ts). */
  channel: Record<never, never>
}

/** Each op's result on success. */
export interface ResultBodies {
  hello: ServerHello
  list: Entry[]
  stat: Stat
  open: OpenResult
  read: WireReadResult[]
  write: WireWriteResult[]
  rpc: unknown
  close: null
  watch: { readonly watchId: number }
  unwatch: null
  ping: { readonly timeMs: number }
  ticket: TicketGrant
  cancel: null
  download: DownloadGrant
  get: WireGetResult[]
  channel: ChannelGrant
}

/** 1.6: a ticket to open this session's data channel: sent once, in the upgrade's header, within `expiresInMs`. */
export interface ChannelGrant {
  readonly ticket: string
  readonly expiresInMs: number
}

/**
 * 1.4: a download waiting for its HTTP request: POST `action` with the form field `ticket`, once, within
 * `expiresInMs`; `sizeBytes` is what it will send when known.
 */
export interface DownloadGrant {
  readonly ticket: string
  readonly expiresInMs: number
  readonly action: string
  readonly sizeBytes?: bigint
}

/** A ticket for one browser session: traded once at hello, within `expiresInMs`; `pages` are the daemon's web pages. */
export interface TicketGrant {
  readonly ticket: string
  readonly expiresInMs: number
  readonly pages: readonly string[]
}

export type Op = keyof RequestBodies

export const OPS = ['hello', 'list', 'stat', 'open', 'read', 'write', 'rpc', 'close', 'watch', 'unwatch', 'ping', 'ticket', 'cancel', 'download', 'get', 'channel'] as const satisfies readonly Op[]

export type RequestOf<K extends Op> = { readonly id: number; readonly op: K } & RequestBodies[K]
export type Request = { [K in Op]: RequestOf<K> }[Op]

export type Reply =
  | { readonly id: number; readonly result: unknown }
  | { readonly id: number; readonly error: WireError }

export interface ChangeEvent {
  readonly event: 'change'
  readonly watchId: number
  /** The branch that changed (at or below the watched path, or its ancestor). */
  readonly path: string
  /** Node ids the event came through, the sending node last (peers use it to stop echoes). */
  readonly via?: readonly string[]
}

/** Sent when a frame was so broken that no request id could be recovered from it. */
export interface ProtocolErrorEvent {
  readonly event: 'protocol-error'
  readonly error: WireError
}

/** 1.2: how far a running request (by its id) has come; sent only for requests that report it (an rpc such as scan). */
export interface ProgressEvent {
  readonly event: 'progress'
  readonly id: number
  readonly done: number
  readonly total: number
  /** Whatever the request reports besides (a scan: hits so far). */
  readonly detail?: Readonly<Record<string, unknown>>
}

/** 1.2: a handle this connection holds went stale (the process exited, the dump was replaced, the peer was lost). */
export interface StaleEvent {
  readonly event: 'stale'
  readonly handle: number
  readonly reason: string
}

/**
 * 1.4: an object appeared under, or went from, a watched branch (a process of an OS on a live source).
 * Sent instead of the `change` it explains, only on watches that asked for them (`watch.objects`); others get the `change`.
 */
export interface ObjectEvent {
  readonly event: 'appeared' | 'gone'
  readonly watchId: number
  /** The object's path (os/g/processes/by-pid/42). */
  readonly path: string
  /** What is known of it without opening it: a process's pid, ppid and name. */
  readonly object: Readonly<Record<string, unknown>>
  /** As on `change`: the nodes the event came through, the sending node last. */
  readonly via?: readonly string[]
}

export type ServerEvent = ChangeEvent | ProtocolErrorEvent | ProgressEvent | StaleEvent | ObjectEvent
export type ServerMessage = Reply | ServerEvent
export type ClientMessage = Request

/** WebSocket close codes the server uses (4000–4999 are the application's own). */
export const CLOSE_CODES = {
  normal: 1000,
  goingAway: 1001,
  protocolError: 1002,
  tooBig: 1009,
  internalError: 1011,
  unauthorized: 4001,
  versionMismatch: 4002,
  helloTimeout: 4003,
  tooManyErrors: 4004,
  serverFull: 4005,
} as const
