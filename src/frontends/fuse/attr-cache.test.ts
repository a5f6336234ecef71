/**
 * The attribute cache: listings fill it, memory leaves never enter it,
 * entries expire, and a change event drops the changed branch and
 * everything below it (and nothing beside it).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { AttrCache } from './attr-cache.js'
import type { LeafMeta } from './fuse-stat.js'

const text: LeafMeta = { sizeBytes: 10n, readable: true, writable: false, rpc: false, content: 'text' }
const mem: LeafMeta = { sizeBytes: 1n << 48n, readable: true, writable: false, rpc: false, content: 'mem' }

test('a listing remembers branches and leaves with metadata, but not memory leaves', () => {
  const cache = new AttrCache(60_000)
  cache.putListing('os/g', [
    { name: 'info', type: 'leaf', meta: text },
    { name: 'kmem', type: 'leaf', meta: mem },
    { name: 'processes', type: 'branch' },
    { name: 'slow', type: 'leaf' },
  ])
  assert.deepEqual(cache.get('os/g/info'), { type: 'leaf', meta: text })
  assert.equal(cache.get('os/g/kmem'), undefined)
  assert.deepEqual(cache.get('os/g/processes'), { type: 'branch', meta: undefined })
  assert.equal(cache.get('os/g/slow'), undefined, 'a leaf listed without metadata is asked for')
  cache.putListing('', [{ name: 'sys', type: 'branch' }])
  assert.notEqual(cache.get('sys'), undefined)
})

test('invalidating a branch drops it and what is below, not its siblings', () => {
  const cache = new AttrCache(60_000)
  for (const path of ['os', 'os/g', 'os/g/info', 'os2', 'os2/x', 'connector/a']) cache.put(path, { type: 'branch' })
  cache.invalidate('os')
  assert.deepEqual(['os', 'os/g', 'os/g/info', 'os2', 'os2/x', 'connector/a'].filter((p) => cache.get(p) !== undefined), ['os2', 'os2/x', 'connector/a'])
  cache.invalidate('')
  assert.equal(cache.size, 0)
})

test('entries expire; a ttl of 0 keeps nothing', () => {
  const expired = new AttrCache(-1)
  expired.put('a', { type: 'branch' })
  assert.equal(expired.get('a'), undefined)
  const off = new AttrCache(0)
  off.put('a', { type: 'branch' })
  assert.equal(off.size, 0)
})
