/**
 * @module net
 * The node protocol: a daemon serves its Tree over WebSocket (an owner-only
 * unix socket, or TCP with a token always, TLS beyond loopback; auth/) with
 * msgpack messages. Node clients (CLI, FUSE, the gdb stub, peers, the
 * library) use it through the TreeClient surface; the web page speaks the
 * same messages from the browser with its own small client
 * (frontends/web/page/protocol.ts), and the server also hands out the
 * page's files and its one-time tickets (browser-origin.ts, browser-tickets.ts).
 *
 *   frontend ─▶ TreeClient ─┬─ ProtocolClient ══ ws+msgpack ══▶ ServerConnection (owner conn-N) ─▶ Tree
 *                           └─ LocalTreeClient (in-process, --embedded) ─────────────────────────▶ Tree
 *   web page ─▶ page/protocol.ts ══ ws+msgpack (ticket at hello) ══▶ ServerConnection ─▶ Tree
 *
 * Requests are pipelined and carry ids; reads and writes are batched with a
 * result per piece; errors travel as MemweaveError codes; watches push
 * change events. Message types live in messages.ts; the web page imports
 * them as types only (its bundle carries no Node code).
 * A client on the unix socket may share a ring file on tmpfs with the daemon
 * (data-ring.ts): big read replies then carry ring positions, not bytes.
 */
export { startServer } from './server.js'
export { TokenStore } from './auth/token-store.js'
export type { TokenSummary } from './auth/token-store.js'
export { ensurePrivateDir, runtimeStateDir } from './auth/state-dir.js'
export type { PageServer, RunningServer, ServerOptions } from './server.js'
export { BrowserTickets, TICKET_LIFETIME_MS } from './browser-tickets.js'
export { hostRefusal, originRefusal } from './browser-origin.js'
export type { ListenerSite } from './browser-origin.js'
export { DEFAULT_DATA_RING_POLICY } from './server-data-ring.js'
export type { DataRingPolicy } from './server-data-ring.js'
export type { DataRingOptions } from './client-data-ring.js'
export { DEFAULT_SERVER_LIMITS } from './server-limits.js'
export { DaemonBudget, defaultBudgetBytes } from './server-budget.js'
export type { BudgetStats } from './server-budget.js'
export type { ServerLimits } from './server-limits.js'
export { connectClient } from './connect.js'
export type { ClientOptions } from './client-options.js'
export type { ProtocolClient } from './protocol-client.js'
export { LocalTreeClient } from './local-client.js'
export type { OpenOptions, TreeClient } from './tree-client.js'
export { DEFAULT_MAX_LEAF_BYTES, callRpc, parseLeafJson, pieceData, readJson, readLeaf, readText, withLeaf, writeLine } from './leaf-io.js'
export type { Entry, FileExtent, FileSpan, FileSpans, LeafFileMap, OpenResult, Stat, PieceResult, ReadIntoPiece, ReadIntoResult, ReadPiece, WritePiece, WriteResult } from './tree-client.js'
export { defaultDaemonUrl, normalizeDaemonUrl, readTokenFile, resolveToken } from './client-auth.js'
export { defaultSocketPath, parseEndpoint, formatEndpoint, isLoopbackHost } from './listen-address.js'
export type { Endpoint } from './listen-address.js'
export { PROTOCOL_VERSION, OPS, CLOSE_CODES, formatVersion } from './messages.js'
export type {
  ChangeEvent, ClientIdentity, ClientMessage, DataRingAnswer, Op, ProgressEvent, ProtocolErrorEvent, StaleEvent, ObjectEvent, TicketGrant, DownloadGrant, ChannelGrant, ProtocolVersion, Reply, Request, RequestBodies, RequestOf,
  ResultBodies, ServerEvent, ServerHello, ServerMessage, WireError, WireGetResult, WireLimits, WireReadPiece, WireReadResult, WireWritePiece, WireWriteResult,
} from './messages.js'
export { encodeMessage, decodeMessage, fromWireError, toWireError } from './codec.js'
export { ensureNodeCertificate, fingerprintOf, normalizeFingerprint, stateDirectory } from './peers-tls.js'
export type { NodeCertificate } from './peers-tls.js'
export type { ChangeListener, ClientTraffic } from './protocol-client.js'
