/**
 * @module os
 * Operating systems found in memory sources. Each OS kind implements the
 * OsInstance model; the tree under os/NAME/ is built from that model once,
 * by the mappings in OS_MAPPINGS, so every kind looks the same:
 *
 *   OS_OBJECT      info, kmem, modules/ ─▶ MODULE_OBJECT, processes/{by-pid,by-name,by-pid-name}/
 *   PROCESS_OBJECT info, mem, maps, phys_maps, modules/ ─▶ MODULE_OBJECT, core, environ,
 *                  threads/TID/{info,registers,registers.json}
 *   MODULE_OBJECT  info, mem
 *
 * Plugins attach to the same object classes. The core writer (core-file/)
 * turns any OsProcess into an ELF core, streamed from its memory.
 */
export type {
  MapEntry, ModuleInfo, OsContext, OsInstance, OsKind, OsProcess, PhysMapEntry, ProcessInfo, ProcessRef,
} from './os-model.js'
export { OS_OBJECT, PROCESS_OBJECT, MODULE_OBJECT } from './os-objects.js'
export type { ModuleObject, NamedOs, ProcessObject } from './os-objects.js'
export { OS_MAPPINGS } from './leaves/os-mappings.js'
export { formatMaps, formatMapsLine, formatPhysMaps, formatPhysMapsLine, parseMaps } from './leaves/maps-format.js'
export { segmentForName, pidNameSegment, parsePidSegment, parsePidNameSegment, uniqueSegments, SLASH_STAND_IN } from './leaves/tree-names.js'
export { writeCoreFile } from './core-file/core-file.js'
export type { CoreWriteProgress, CoreWriteResult } from './core-file/core-file.js'
export { planCoreFile } from './core-file/core-file-layout.js'
export type { CoreLayout, CoreSegment } from './core-file/core-file-layout.js'
export { readCoreFile } from './core-file/core-file-reader.js'
export type { CoreReadStats } from './core-file/core-file-reader.js'
export { findElfImages } from './elf-images.js'
export { WindowMemory } from './window-memory.js'
export { processIdentity } from './leaves/process-branch.js'
export { PROCESSES_README } from './leaves/processes-readme.js'
export { USER_REGS, GDB_REGS, FXSAVE_BYTES, encodeUserRegs, zeroRegs } from './x86-64-registers.js'
export type { RegisterSource, UserRegName, UserRegs, X86ThreadRegisters } from './x86-64-registers.js'
export { AARCH64_REGS, FPSIMD_BYTES, encodeUserPtRegs, zeroAarch64Regs } from './aarch64-registers.js'
export type { Aarch64RegName, Aarch64Regs, Aarch64ThreadRegisters } from './aarch64-registers.js'
export { formatRegisters, registersJson } from './thread-state.js'
export type { ThreadRegisters, ThreadState } from './thread-state.js'
