/**
 * What stat shows: modes from leaf metadata (rpc leaves readable, nothing
 * writable on a read-only mount), sparse memory, unknown sizes as 0, and
 * sizes beyond what FUSE can carry clamped.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MAX_FUSE_SIZE, branchStat, leafMode, leafStat } from './fuse-stat.js'
import type { LeafMeta, StatContext } from './fuse-stat.js'

const context: StatContext = { uid: 1000, gid: 100, readOnly: false, mountedAt: new Date(0) }
const meta = (over: Partial<LeafMeta>): LeafMeta => ({ sizeBytes: 100n, readable: true, writable: false, rpc: false, content: 'text', ...over })

test('modes follow readable, writable and rpc, and a read-only mount drops write bits', () => {
  assert.equal(leafMode(meta({}), false), 0o444)
  assert.equal(leafMode(meta({ writable: true }), false), 0o644)
  assert.equal(leafMode(meta({ readable: false, writable: true }), false), 0o200)
  assert.equal(leafMode(meta({ readable: false, rpc: true, content: 'rpc' }), false), 0o444)
  assert.equal(leafMode(meta({ writable: true, content: 'control' }), true), 0o444)
  assert.equal(branchStat(context).mode, 0o040755)
  assert.equal(branchStat({ ...context, readOnly: true }).mode, 0o040555)
})

test('sizes: memory is sparse, unknown is 0, huge is clamped; owner and times come from the context', () => {
  const process = leafStat(meta({ sizeBytes: 1n << 48n, content: 'mem' }), context)
  assert.deepEqual([process.mode, process.size, process.blocks, process.uid, process.gid], [0o100444, 2 ** 48, 0, 1000, 100])
  assert.equal(leafStat(meta({ sizeBytes: undefined }), context).size, 0)
  assert.equal(leafStat(meta({ sizeBytes: 1n << 64n, content: 'mem' }), context).size, MAX_FUSE_SIZE)
  assert.equal(leafStat(meta({ sizeBytes: 1000n }), context).blocks, 2)
  assert.equal(leafStat(meta({}), context).mtime.getTime(), 0)
})
