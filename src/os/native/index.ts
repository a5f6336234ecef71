/**
 * @module os/native
 * The host Linux as an OS kind (`native`): processes, their memory, maps,
 * physical pages and modules through /proc.
 *
 *   /proc ─▶ NativeOs.processes() (cached refresh_ms) ─▶ NativeProcess (pid + start time)
 *                                                        ├─ mem: /proc/PID/mem (pooled fd)
 *                                                        ├─ maps, environ, auxv
 *                                                        └─ physMaps: /proc/PID/pagemap
 */
export { nativeOsKind, DEFAULT_REFRESH_MS } from './native-kind.js'
export { NativeOs } from './native-os.js'
export type { NativeOsOptions } from './native-os.js'
export { NativeProcess, processStaleCheck } from './native-process.js'
export { parseProcStat, parseProcStatus } from './proc-stat.js'
export type { ProcStat, ProcStatus } from './proc-stat.js'
export { parseProcModules } from './kernel-modules.js'
