/**
 * mountTree: shows a TreeClient's tree (a daemon across a socket, or the
 * in-process tree of `serve --fuse`) as a FUSE filesystem. Branches are
 * directories, leaves are files; all files use direct I/O, so the kernel
 * page cache never serves stale guest memory and leaves whose size is
 * unknown (reported as 0) still read to their end.
 *
 * Never read a mount from the process that serves it with blocking calls:
 * its event loop answers the reads (use child processes or async fs calls).
 */
import type { Logger } from 'pino'
import { toMemweaveError } from '../../errors/index.js'
import type { TreeClient } from '../../net/index.js'
import { chooseFuseImplementation, openFuseBinding } from './fuse-binding.js'
import type { FuseImplementation } from './fuse-binding.js'
import { mountAt, prepareMountpoint } from './mountpoint.js'
import { TreeFilesystem } from './tree-filesystem.js'

export interface MountOptions {
  /** Mount `ro`: no leaf is writable, control leaves included (memory writes also need the daemon's --allow-write). */
  readonly readOnly: boolean
  readonly log: Logger
  /** Let other users see the mount (needs `user_allow_other` in /etc/fuse.conf unless root). */
  readonly allowOther?: boolean
  /** Owner shown for every file (default: this process's). */
  readonly uid?: number
  readonly gid?: number
  /** How long the kernel and this frontend reuse names and metadata (default 1000; memory leaves are never kept here). */
  readonly attrCacheMs?: number
  /** Unmapped pages of memory leaves read as zeros (default true); false makes such reads fail with EIO. */
  readonly zeroFillUnmapped?: boolean
  /** Longest one operation may take before it fails with ETIMEDOUT (default 120 s: creating an OS can be slow). */
  readonly opTimeoutMs?: number
  /** Sequential reads of memory leaves fetch this much at once (default 1 MiB; 0 turns read-ahead off). */
  readonly readAheadBytes?: number
  /** libfuse3: reads of an in-process image file's memory are answered by the addon, without JS (default true; false for A/B runs). */
  readonly directReads?: boolean
  /** libfuse debug output on stderr. */
  readonly debug?: boolean
  /** The FUSE binding: libfuse3 (the addon, 1 MiB requests, batched) or fuse-native (libfuse 2); default: MEMWEAVE_FUSE, else libfuse3 where built. */
  readonly implementation?: FuseImplementation
}

export interface MountedTree {
  readonly mountpoint: string
  /** The binding that serves the mount. */
  readonly implementation: FuseImplementation
  /** Unmounts (lazily, so open files do not block it) and closes the handles still open. Safe to call twice. */
  unmount(): Promise<void>
  /** Files opened through the mount that the kernel has not released yet. */
  readonly openFiles: number
  /**
   * Resolves once no file of the mount is open. After unmount, files opened
   * before still send requests here (answered ENOTCONN); a server that exits
   * before they are closed would leave requests it had not answered to fail
   * with ECONNABORTED instead.
   */
  openFilesReleased(): Promise<void>
  /**
   * Resolves once the kernel connection is gone: the mount was unmounted (by
   * unmount(), or from outside with `fusermount3 -u` or `umount`) and every
   * file released. Only libfuse3 can tell; with fuse-native it never resolves.
   */
  ended(): Promise<void>
  /** Reads answered by the binding itself, without JS (libfuse3: an image file's memory), and files it does so for now. */
  readonly directReads: { readonly reads: number; readonly files: number }
}

export const DEFAULT_ATTR_CACHE_MS = 1000
export const DEFAULT_OP_TIMEOUT_MS = 120_000
export const DEFAULT_READ_AHEAD_BYTES = 1024 * 1024
/** Asked of the kernel: libfuse 3 gets it (max_pages 256); fuse-native (libfuse 2) negotiates no max_pages and gets 128 KiB reads. */
export const MAX_READ_BYTES = 1024 * 1024

export async function mountTree(client: TreeClient, mountpoint: string, options: MountOptions): Promise<MountedTree> {
  const log = options.log.child({ component: 'fuse' })
  const path = await prepareMountpoint(mountpoint, log)
  const attrCacheMs = options.attrCacheMs ?? DEFAULT_ATTR_CACHE_MS
  const implementation = options.implementation ?? chooseFuseImplementation()
  const filesystem = new TreeFilesystem(client, {
    readOnly: options.readOnly,
    uid: options.uid ?? process.getuid?.() ?? 0,
    gid: options.gid ?? process.getgid?.() ?? 0,
    mountedAt: new Date(),
    attrCacheMs,
    zeroFillUnmapped: options.zeroFillUnmapped ?? true,
    opTimeoutMs: options.opTimeoutMs ?? DEFAULT_OP_TIMEOUT_MS,
    readAheadBytes: options.readAheadBytes ?? DEFAULT_READ_AHEAD_BYTES,
    // libfuse 3 answers reads of image files in its addon, without JS (direct-reads.ts).
    directReads: implementation === 'libfuse3' && options.directReads !== false,
    log,
  })
  const seconds = String(attrCacheMs / 1000)
  const binding = openFuseBinding(path, filesystem.operations(), {
    fsname: 'memweave',
    allowOther: options.allowOther === true,
    maxReadBytes: MAX_READ_BYTES,
    debug: options.debug === true,
    implementation,
    extraOptions: [
      'subtype=memweave', 'direct_io', 'big_writes', 'default_permissions', `attr_timeout=${seconds}`, `entry_timeout=${seconds}`, 'negative_timeout=0',
      ...(options.readOnly ? ['ro'] : []),
    ],
  })
  const stopWatching = await client.watch('', (changed) => filesystem.cache.invalidate(changed))
  // A daemon that dies takes every handle with it: from then on the mount answers ENOTCONN (never EBADF).
  if ('onClose' in client && typeof client.onClose === 'function') {
    client.onClose((reason: unknown) => filesystem.treeGone(`the daemon behind the mount went away (${reason instanceof Error ? reason.message : String(reason)})`))
  }
  try {
    await binding.mount()
  } catch (err) {
    await stopWatching()
    throw err
  }
  log.info({ mountpoint: path, readOnly: options.readOnly, allowOther: options.allowOther === true, binding: binding.implementation }, 'mounted')
  const ended = binding.sessionEnded?.().then(() => filesystem.connectionGone()) ?? new Promise<void>(() => {})

  let unmounting: Promise<void> | undefined
  const unmount = async (): Promise<void> => {
    try {
      await binding.unmount()
    } catch (err) {
      // Someone may have unmounted us first (fusermount -u): that is done, not failed.
      const still = await mountAt(path)
      if (still !== undefined && still.fstype === 'fuse.memweave') throw toMemweaveError(err, 'fuse', `cannot unmount ${path}`)
      log.debug({ err, mountpoint: path }, 'already unmounted')
    }
    await filesystem.closeAll()
    try {
      await stopWatching()
    } catch (err) {
      log.debug({ err }, 'stopping the change watch failed (client gone?)')
    }
    log.info({ mountpoint: path }, 'unmounted')
  }
  return {
    mountpoint: path,
    implementation: binding.implementation,
    unmount: () => (unmounting ??= unmount()),
    get openFiles() { return filesystem.openFiles },
    openFilesReleased: () => filesystem.openFilesReleased(),
    ended: () => ended,
    get directReads() { return binding.directReads ?? { reads: 0, files: 0 } },
  }
}
