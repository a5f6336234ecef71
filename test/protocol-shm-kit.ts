/**
 * Shared pieces of the data-ring tests: a private directory on /dev/shm for
 * ring files (so parallel test files never see each other's), the ring
 * descriptors this process holds, hand-made ring files (as a hostile client
 * would make them), and a tree with two big memory leaves whose reads can be
 * held back separately.
 */
import { randomBytes } from 'node:crypto'
import { closeSync, ftruncateSync, openSync, readdirSync, readlinkSync, readSync, writeSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { RING_HEADER_BYTES, RING_KEY_BYTES, RING_MAGIC } from '../src/net/data-ring.js'
import { Lifetime, memLeaf, staticBranch, Tree } from '../src/tree/index.js'
import { RegionMemory } from './protocol-kit.js'

export const MIB = 1 << 20
/** The smallest ring the daemon takes by default: 1 MiB file, so 1 MiB - 4 KiB of ring. */
export const SMALL_RING_BYTES = MIB
export const SMALL_RING_CAPACITY = SMALL_RING_BYTES - RING_HEADER_BYTES

export async function shmDir(): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp('/dev/shm/memweave-test-')
  return { path, remove: () => rm(path, { recursive: true, force: true }) }
}

/** Descriptors of this process open on files that were in `dir` (unlinked ones show as "(deleted)"). */
export function ringFds(dir: string): number {
  let count = 0
  for (const fd of readdirSync('/proc/self/fd')) {
    let target: string
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`)
    } catch (err) {
      // The descriptor readdir itself used is gone by now; anything else is a real failure.
      if (typeof err === 'object' && err !== null && 'code' in err && err.code === 'ENOENT') continue
      throw err
    }
    if (target.startsWith(`${dir}/`)) count++
  }
  return count
}

/** A ring file with the header a client writes; returns its key. */
export function writeRingFile(path: string, sizeBytes: number, mode = 0o600): Buffer {
  const key = randomBytes(RING_KEY_BYTES)
  const fd = openSync(path, 'wx', mode)
  try {
    ftruncateSync(fd, sizeBytes)
    writeSync(fd, Buffer.concat([RING_MAGIC, key]), 0, RING_MAGIC.length + RING_KEY_BYTES, 0)
  } finally {
    closeSync(fd)
  }
  return key
}

/** Bytes of a ring file at a ring position (what a client copies out). */
export function ringBytes(fd: number, capacity: number, position: number, length: number): Buffer {
  const out = Buffer.alloc(length)
  let got = 0
  const offset = RING_HEADER_BYTES + (position % capacity)
  while (got < length) {
    const n = readSync(fd, out, got, length - got, offset + got)
    if (n === 0) throw new Error('ring file ended early')
    got += n
  }
  return out
}

export interface TwoLeafTree {
  readonly tree: Tree
  readonly a: RegionMemory
  readonly b: RegionMemory
  /** The bytes a read of `length` at `offset` of leaf a or b must return. */
  expected(leaf: 'a' | 'b', offset: number, length: number): Buffer
}

/** Leaves data/a and data/b, `bytes` long each at address 0, with different fill patterns. */
export function twoLeafTree(bytes: number): TwoLeafTree {
  const tree = new Tree({ allowWrite: false })
  const lifetime = new Lifetime("object 'shm-test'")
  const a = new RegionMemory(0n, new Uint8Array(bytes).map((_, i) => (i * 7 + (i >> 12)) & 0xff))
  const b = new RegionMemory(0n, new Uint8Array(bytes).map((_, i) => (i * 13 + 5 + (i >> 9)) & 0xff))
  tree.setRoot(staticBranch({
    data: staticBranch({
      a: memLeaf({ identity: 'shm/a', lifetime, mem: a }),
      b: memLeaf({ identity: 'shm/b', lifetime, mem: b }),
    }),
  }))
  return {
    tree, a, b,
    expected: (leaf, offset, length) => Buffer.from((leaf === 'a' ? a : b).bytes.subarray(offset, offset + length)),
  }
}

export function ringPath(dir: string, name = `memweave-${process.pid}-${randomBytes(4).toString('hex')}`): string {
  return join(dir, name)
}
