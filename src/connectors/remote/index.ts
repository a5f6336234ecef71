/**
 * @module connectors/remote
 * Connectors of other nodes used here: the `remote` kind (memory forwarded
 * along a chained handle to a peer's connector) and the `hints` leaf every
 * connector shows, which carries ELF notes and memory metadata over the wire.
 */
export { connectorHintsLeaf, hintsDocument, parseHintsDocument } from './hints-leaf.js'
export type { HintsDocument } from './hints-leaf.js'
export { openRemoteConnector } from './remote-connector.js'
export { REMOTE_USAGE, remoteConnectorKind, remoteConnectorPath } from './remote-kind.js'
