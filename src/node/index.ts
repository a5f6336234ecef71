/**
 * @module node
 * The composition root: a MemweaveNode wires connector kinds, OS kinds and
 * mappings into one tree, and keeps the named objects created in it.
 */
export { MemweaveNode } from './memweave-node.js'
export { LocalNode, createNode } from './create-node.js'
export type { CreateNodeOptions, StartObject } from './create-node.js'
export type { NodeOptions } from './memweave-node.js'
export { ObjectStore } from './object-store.js'
export { DEFAULT_NODE_LIMITS, resolveNodeLimits } from './node-limits.js'
export type { NodeLimits } from './node-limits.js'
export type { ConnectorRecord, OsRecord } from './object-store.js'
export { KindRegistry } from './kind-registry.js'
export { BUILTIN_CONNECTOR_KINDS, BUILTIN_MAPPINGS, BUILTIN_OS_KINDS } from './builtins.js'
export { MEMWEAVE_VERSION } from '../version.js'
/** Helper processes a FUSE-mounting daemon starts before it mounts (spawn order keeps /dev/fuse out of them). */
export { startBundler } from '../plugins/index.js'
export { currentEventVia, currentVia, outsideRequests, runWithVia } from '../tree/index.js'
export { forwardVia, MAX_HOPS, notifyFromPeer } from './peers/hop-rules.js'
export { PeerWiring } from './peers/peer-wiring.js'
export type { PeerDirectory, PeerLink, PeerSession } from './peers/peer-link.js'
export { PeerManager } from './peers/peer-manager.js'
export type { PeerManagerOptions } from './peers/peer-manager.js'
export type { PeerState, PeerStatus } from './peers/peer-connection.js'
export { DEFAULT_PEER_TUNING, parseConnectOption, parsePeerLine, peerSpecFromRpc } from './peers/peer-spec.js'
export type { PeerSpec, PeerTuning } from './peers/peer-spec.js'
