/**
 * @module addons
 * Native addons, the bottom layer beside errors: each `native/NAME/` folder
 * builds `build/native/NAME.node` with plain gcc (scripts/build-native.sh),
 * and this layer finds and loads it. Every addon is optional: its users keep
 * a pure-Node path, taken automatically when the addon is absent.
 *
 *   native/mmap ─▶ build/native/mmap.node ─▶ mmapAddon()
 *        used by connectors (page-cache reads without a thread-pool trip),
 *        net (the data ring mapped on both ends), the CLI (pipe sizes)
 *   native/fuse3 ─▶ build/native/fuse3.node ─▶ fuse3Addon()
 *        used by the FUSE frontend (libfuse 3; fuse-native without it)
 */
export { loadAddon } from './load-addon.js'
export type { AddonLoad } from './load-addon.js'
export { mmapAddon, mmapAddonAbsence, reloadMmapAddon, NOWAIT_NOTHING_CACHED, NOWAIT_UNSUPPORTED } from './mmap-addon.js'
export type { MmapAddon } from './mmap-addon.js'
export { fuse3Addon, fuse3AddonAbsence, OP, RECORD } from './fuse3-addon.js'
export type { BatchListener, Fuse3Addon, Fuse3Handle } from './fuse3-addon.js'
