/**
 * @module connectors/qemu
 * The `qemu` connector: guest RAM of a running QEMU process.
 *
 *   name / pid / only one ─▶ /proc/PID/cmdline ─┬─ qmp=SOCKET: info mtree -f, gpa2hva ──┐
 *                                               └─ -m, -machine + /proc/PID/maps ───────┴▶ ranges (guest → host)
 *   read([pieces]) ─▶ ranges ─▶ PreadMemory (../pread: merged extents, pread on /proc/PID/mem) ─▶ views
 *   ProcessWatch (/proc/PID/stat start time, ≤100 ms old + 1 s poll) ─▶ lifetime ends when QEMU exits
 */
export { qemuConnectorKind, QEMU_USAGE } from './qemu-connector.js'
export { QmpClient, DEFAULT_QMP_TIMEOUT_MS } from './qmp-client.js'
export type { QmpOptions } from './qmp-client.js'
export { parseQemuCommandLine, parseQemuOpts, parseQemuSize, isQemuBinary } from './qemu-cmdline.js'
export type { MemoryBackend, QemuCommandLine } from './qemu-cmdline.js'
export { guestRamLayout, machineFamily } from './guest-layout.js'
export type { GuestRamLayout, GuestRamRange } from './guest-layout.js'
export { listQemuProcesses, selectQemuProcess } from './qemu-process.js'
export type { ProcessSelector, QemuProcess } from './qemu-process.js'
export { parseFlatView } from './qmp-layout.js'
export type { FlatRegion } from './qmp-layout.js'
export type { LayoutMethod, QemuRamLayout, QemuRamRange } from './ram-layout.js'
