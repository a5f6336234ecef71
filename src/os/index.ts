/**
 * @module os
 * Operating systems found in memory sources. Each OS kind implements the
 * OsInstance model; the tree under os/NAME/ is built from that model.
 */
export type {
  MapEntry, ModuleInfo, OsContext, OsInstance, OsKind, OsProcess, PhysMapEntry, ProcessInfo, ProcessRef,
} from './os-model.js'
export { OS_OBJECT, PROCESS_OBJECT, MODULE_OBJECT } from './os-objects.js'
export type { ModuleObject, NamedOs, ProcessObject } from './os-objects.js'
