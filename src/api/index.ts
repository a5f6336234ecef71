/**
 * @module api
 * The library surface behind the npm entry points (src/index.ts and the
 * subpaths): a node in this process, a client on a daemon, leaf helpers and
 * OS/process views over either. Nothing below imports this folder.
 */
export { createNode } from './create-node.js'
export type { LocalNode, NodeOptions } from './create-node.js'
export { connect } from './connect.js'
export type { ConnectOptions } from './connect.js'
export { DEFAULT_MAX_LEAF_BYTES, callRpc, openConnector, openOs, pieceData, readJson, readLeaf, readText, withLeaf, writeLine } from './leaf-io.js'
export { OsView, ProcessView, osView } from './os-view.js'
export type { ModuleSummary } from './os-view.js'
