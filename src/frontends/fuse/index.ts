/**
 * @module frontends/fuse
 * The tree as a FUSE filesystem, for cat, dd, strings, grep and gdb. It
 * talks only to a TreeClient, so the mount may run on another machine than
 * the daemon it shows.
 *
 *   kernel ─▶ /dev/fuse polled by the event loop ─▶ libfuse 3 addon (batches) ─▶ Fuse3Binding (inode ↦ path) ─┐
 *   kernel ─▶ libfuse 2 thread ─▶ fuse-native (fallback, one request per crossing) ─────────────────────────┴▶ TreeFilesystem ─▶ TreeClient ─▶ tree
 *
 * Memory leaves are sparse files read with direct I/O; unmapped pages read
 * as zeros. Control leaves take `echo LINE >> os/new`; a refused line fails
 * the write with its errno, and `cat os/new` shows why. See docs/fuse.md.
 */
export { mountTree, DEFAULT_ATTR_CACHE_MS, DEFAULT_OP_TIMEOUT_MS, DEFAULT_READ_AHEAD_BYTES, MAX_READ_BYTES } from './mount-tree.js'
export type { MountOptions, MountedTree } from './mount-tree.js'
export { mountAt } from './mountpoint.js'
export type { MountRecord } from './mountpoint.js'
