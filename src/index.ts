/**
 * memweave's public API (npm `memweave`). Subpaths: `memweave/plugins`
 * (definePlugin, plugin types), `memweave/mem` (memory views, middleware),
 * `memweave/testing` (fakes). Anything not exported here is internal.
 *
 *   import { connect, osView } from 'memweave'
 *   const client = await connect()                      // default socket, token found like the CLI
 *   for (const p of await osView(client, 'g').processes()) console.log(p.pid, p.name)
 *   await client.disconnect()
 *
 *   createNode() ─▶ LocalNode ─client()─┐
 *   connect(url) ─▶ ProtocolClient ─────┴─▶ TreeClient: list stat open read write rpc close watch
 */
export { createNode, connect, osView, OsView, ProcessView, openConnector, openOs, readLeaf, readText, readJson, withLeaf, writeLine, callRpc, pieceData, DEFAULT_MAX_LEAF_BYTES } from './api/index.js'
export type { ConnectOptions, LocalNode, ModuleSummary, NodeOptions } from './api/index.js'
export { MemweaveError, ERROR_KINDS, ERROR_ORIGINS, ERROR_KIND_TEXT, isErrorKind, kindFromCode, originFromCode } from './errors/index.js'
export type { ErrorKind, ErrorOrigin } from './errors/index.js'
export { physAddr, virtAddr, hex } from './mem/index.js'
export type { PhysAddr, VirtAddr, PieceResult, ReadPiece, WritePiece, WriteResult } from './mem/index.js'
export type { Entry, LeafContent, LeafMeta, OpenResult, Stat } from './tree/index.js'
export { parseMaps } from './os/index.js'
export type { MapEntry } from './os/index.js'
export {
  PROTOCOL_VERSION, OPS, CLOSE_CODES, formatVersion, connectClient, LocalTreeClient, defaultSocketPath, defaultDaemonUrl, normalizeDaemonUrl,
  parseEndpoint, formatEndpoint, readTokenFile, resolveToken, startServer,
} from './net/index.js'
export type {
  TreeClient, ProtocolClient, ClientOptions, ChangeListener, ServerHello, WireLimits, ProtocolVersion, Endpoint, RunningServer, ServerOptions,
  ServerLimits, DataRingOptions,
} from './net/index.js'
export { MEMWEAVE_VERSION } from './version.js'
