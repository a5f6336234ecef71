/** The stat cache stays tiny and forgets what a change event touches. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { StatCache } from './peer-stat-cache.js'

test('bounded: the oldest entries go first', () => {
  const cache = new StatCache(3)
  for (const name of ['a', 'b', 'c', 'd']) cache.set(name, { type: 'branch' })
  assert.equal(cache.size, 3)
  assert.equal(cache.get('a'), undefined)
  assert.deepEqual(cache.get('d'), { type: 'branch' })
})

test('a change at a path forgets it and everything below, not its neighbours; "" forgets all', () => {
  const cache = new StatCache()
  for (const path of ['os', 'os/g', 'os/g/info', 'osx', 'connector/x']) cache.set(path, { type: 'branch' })
  cache.invalidate('os')
  assert.deepEqual(['os', 'os/g', 'os/g/info', 'osx', 'connector/x'].map((p) => cache.get(p) !== undefined), [false, false, false, true, true])
  cache.invalidate('')
  assert.equal(cache.size, 0)
})

test('entries expire', () => {
  const cache = new StatCache(10, -1)
  cache.set('a', { type: 'leaf' })
  assert.equal(cache.get('a'), undefined)
})
