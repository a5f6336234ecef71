/**
 * @module net/client
 * The client half of net, a side door beside index.ts (test/layer-table.ts):
 * what a process that only talks to a daemon needs — connecting, the leaf
 * helpers, the daemon address and token rules. Every CLI command is a fresh
 * process, and index.ts also loads the server (about thirty more modules),
 * so the CLI's client commands come in here.
 */
export { connectClient } from './connect.js'
export type { ClientOptions } from './client-options.js'
export type { ProtocolClient } from './protocol-client.js'
export type { OpenOptions, TreeClient } from './tree-client.js'
export type { Entry, OpenResult, PieceResult, ReadIntoPiece, ReadIntoResult, ReadPiece, Stat, WritePiece, WriteResult } from './tree-client.js'
export { DEFAULT_MAX_LEAF_BYTES, callRpc, parseLeafJson, pieceData, readJson, readLeaf, readText, withLeaf, writeLine } from './leaf-io.js'
export { defaultDaemonUrl, normalizeDaemonUrl, readTokenFile, resolveToken } from './client-auth.js'
export { fromWireError } from './codec.js'
