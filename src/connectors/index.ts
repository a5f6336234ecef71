/**
 * @module connectors
 * Memory sources. Each kind turns arguments into a Connector: a batched
 * physical memory view plus metadata and hints for OS layers.
 */
export type { Connector, ConnectorContext, ConnectorHints, ConnectorKind, CpuRegisterSnapshot, ElfNote, PhysRangeInfo, TriageDriver, WindowsDumpHints } from './connector.js'
export { CONNECTOR_OBJECT, CONNECTOR_MAPPINGS } from './connector-tree.js'
export type { NamedConnector } from './connector-tree.js'
export { fileConnectorKind, openCheckedFile, readCheckedFile } from './file/index.js'
export type { CheckedFile, CheckedOpenOptions } from './file/index.js'
export { qemuConnectorKind } from './qemu/index.js'
export { kcoreConnectorKind } from './kcore/index.js'
export { connectorHintsLeaf, parseHintsDocument, remoteConnectorKind, remoteConnectorPath } from './remote/index.js'
