import assert from 'node:assert/strict'
import { test } from 'node:test'
import { mmapAddon } from '../addons/index.js'
import { ScratchPool } from './scratch-pool.js'

const MIB = 1 << 20

test('a small buffer given back is reused; one too big to keep, or past the idle bound, is freed at once (not left to the collector)', (t) => {
  const pool = new ScratchPool(4 * MIB, 6 * MIB)
  const small = pool.take(100)
  assert.equal(small.length, MIB) // small takes share 1 MiB buffers
  pool.give(small)
  assert.equal(pool.take(512 * 1024), small, 'the same memory again')
  pool.give(small)

  const big = pool.take(8 * MIB)
  assert.equal(big.length, 8 * MIB)
  const beyond = [pool.take(4 * MIB), pool.take(4 * MIB)] // the first is kept (1 + 4 <= 6 MiB idle), the second is not
  pool.give(big)
  for (const b of beyond) pool.give(b)
  assert.deepEqual(pool.stats, { inUse: 0, idle: 2, idleBytes: 5 * MIB })
  if (mmapAddon()?.free === undefined) { t.skip('the mmap addon (with free) is not built: the buffers are left to the collector'); return }
  assert.equal(big.buffer.byteLength, 0, 'the big buffer was freed (detached)')
  assert.equal(beyond[0]!.buffer.byteLength, 4 * MIB, 'kept for reuse')
  assert.equal(beyond[1]!.buffer.byteLength, 0, 'freed past the idle bound')
})
