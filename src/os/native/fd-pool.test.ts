import assert from 'node:assert/strict'
import { open } from 'node:fs/promises'
import { test } from 'node:test'
import { FdPool } from './fd-pool.js'

test('the pool shares a handle per key, closes the least recently used past its bound, and drops by prefix', async () => {
  const pool = new FdPool(2)
  let opens = 0
  const opener = async () => { opens++; return open('/dev/null', 'r') }
  const fdOf = (key: string) => pool.use(key, opener, async (h) => h.fd)
  const a = await fdOf('1@1:r')
  assert.equal(await fdOf('1@1:r'), a)
  assert.equal(opens, 1)
  await fdOf('2@1:r')
  await fdOf('3@1:r')
  assert.equal(pool.size, 2)
  await fdOf('1@1:r') // was evicted: opens again
  assert.equal(opens, 4)
  await pool.drop('3@1:')
  assert.equal(pool.size, 1)
  await assert.rejects(pool.use('bad', async () => { throw new Error('nope') }, async () => 1), /nope/)
  assert.equal(pool.size, 1, 'a failed open is not kept')
  await pool.closeAll()
  assert.equal(pool.size, 0)
})
