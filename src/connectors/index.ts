/**
 * @module connectors
 * Memory sources. Each kind turns arguments into a Connector: a batched
 * physical memory view plus metadata and hints for OS layers.
 */
export type { Connector, ConnectorContext, ConnectorHints, ConnectorKind, CpuRegisterSnapshot, ElfNote, PhysRangeInfo, TriageDriver, WindowsDumpHints } from './connector.js'
export { CONNECTOR_OBJECT, CONNECTOR_MAPPINGS } from './connector-tree.js'
export type { NamedConnector } from './connector-tree.js'
export { fileConnectorKind } from './file/index.js'
export {
  EHDR_BYTES, ELF_MAGIC, EM_AARCH64, EM_X86_64, NT_ARM_TLS, NT_AUXV, NT_FILE, NT_PRFPREG, NT_PRPSINFO, NT_PRSTATUS, NT_X86_XSTATE, PF_R, PF_W, PF_X, PHDR_BYTES, PT_LOAD, PT_NOTE,
  encodeElfNotes, hasElfMagic, parseElfNotes, vmcoreinfoText, writeElfCoreHeader, writeProgramHeader,
} from './elf/index.js'
export { qemuConnectorKind } from './qemu/index.js'
export { kcoreConnectorKind } from './kcore/index.js'
export { connectorHintsLeaf, parseHintsDocument, remoteConnectorKind, remoteConnectorPath } from './remote/index.js'
