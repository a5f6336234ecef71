/**
 * What `stat` shows for tree nodes: branches are directories, leaves are
 * regular files whose mode comes from their metadata (0444 / 0644 / 0200)
 * and whose size is the listed size. Memory leaves are large sparse files
 * (a process is 2^48 bytes); a leaf of unknown size reports 0, and since
 * every file is served with direct I/O its reads still return the data.
 */
import type { Stat } from '../../net/index.js'
import type { FuseStat } from './fuse-binding.js'

export type LeafMeta = NonNullable<Stat['meta']>

export interface StatContext {
  readonly uid: number
  readonly gid: number
  readonly readOnly: boolean
  /** mtime/ctime of everything: when the mount was made. */
  readonly mountedAt: Date
}

/** Largest size fuse-native can pack (it goes through a double into a signed 64-bit off_t). */
export const MAX_FUSE_SIZE = 2 ** 63 - 1024
/** Offsets reach us as doubles; above this they are no longer exact. */
export const MAX_EXACT_OFFSET = Number.MAX_SAFE_INTEGER
/** Advertised block size: stdio sizes its buffers by it, and with direct I/O every read is a round trip. */
export const BLOCK_BYTES = 128 * 1024

const S_IFDIR = 0o040000
const S_IFREG = 0o100000

export function branchStat(context: StatContext): FuseStat {
  return common(context, S_IFDIR | (context.readOnly ? 0o555 : 0o755), 4096, 2, 8)
}

export function leafMode(meta: LeafMeta, readOnly: boolean): number {
  const writable = meta.writable && !readOnly
  // rpc leaves are readable: they show their help text.
  const readable = meta.readable || meta.rpc
  return (readable ? 0o444 : 0) | (writable ? 0o200 : 0)
}

export function leafStat(meta: LeafMeta, context: StatContext): FuseStat {
  const size = meta.sizeBytes === undefined ? 0 : Number(meta.sizeBytes > BigInt(MAX_FUSE_SIZE) ? BigInt(MAX_FUSE_SIZE) : meta.sizeBytes)
  // Memory is sparse: report no allocated blocks, so du and cp --sparse do not take 2^48 bytes at their word.
  const blocks = meta.content === 'mem' ? 0 : Math.ceil(size / 512)
  return common(context, S_IFREG | leafMode(meta, context.readOnly), size, 1, blocks)
}

function common(context: StatContext, mode: number, size: number, nlink: number, blocks: number): FuseStat {
  return {
    mode, uid: context.uid, gid: context.gid, size, nlink, blksize: BLOCK_BYTES, blocks,
    atime: context.mountedAt, mtime: context.mountedAt, ctime: context.mountedAt,
  }
}
