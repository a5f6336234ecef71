/**
 * positional reads on both paths: with the mmap addon a large read takes
 * what the page cache holds synchronously (preadv2 RWF_NOWAIT) up to a
 * budget per event-loop turn, then goes to the thread pool; without it
 * (MEMWEAVE_NATIVE=0) every large read goes to the thread pool. The bytes
 * are the file's either way, including a read that runs past its end.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { mmapAddon, mmapAddonAbsence, reloadMmapAddon } from '../addons/index.js'
import { preadInto, readAtMost, SYNC_BYTES_PER_TURN } from './positional-read.js'

const MIB = 1024 * 1024
let dir: string
let path: string
let fd: number
let bytes: Buffer
before(async () => {
  // Not on tmpfs, which cannot read without waiting; /tmp is tmpfs on some machines, the repository's folder rarely.
  dir = await mkdtemp(join(process.env['MEMWEAVE_TEST_DISK_DIR'] ?? tmpdir(), 'memweave-pread-'))
  path = join(dir, 'image')
  bytes = randomBytes(40 * MIB + 123)
  writeFileSync(path, bytes)
  readFileSync(path) // into the page cache
  fd = openSync(path, 'r')
})
after(async () => {
  closeSync(fd)
  await rm(dir, { recursive: true, force: true })
})

async function readAll(): Promise<void> {
  const target = Buffer.alloc(3 * MIB)
  // More than the per-turn budget in one turn: the later reads take the thread pool, the bytes are the same.
  for (let pos = 0; pos + target.length <= bytes.length; pos += target.length) {
    const n = await preadInto(fd, target, 0, target.length, pos)
    assert.equal(n, target.length)
    assert.ok(target.equals(bytes.subarray(pos, pos + target.length)), `bytes at ${pos}`)
  }
  const tail = await readAtMost(fd, bytes.length - 100_000, 200_000)
  assert.equal(tail.length, 100_000, 'a read past the end stops there')
  assert.ok(Buffer.from(tail).equals(bytes.subarray(bytes.length - 100_000)))
  const small = Buffer.alloc(100)
  assert.equal(await preadInto(fd, small, 0, 100, 5), 100)
  assert.ok(small.equals(bytes.subarray(5, 105)))
}

for (const mode of ['page cache first', 'thread pool only'] as const) {
  describe(`large reads, ${mode}`, { skip: mode === 'page cache first' ? mmapAddonAbsence() ?? false : false }, () => {
    const native = process.env['MEMWEAVE_NATIVE']
    before(() => {
      if (mode === 'thread pool only') process.env['MEMWEAVE_NATIVE'] = '0'
      reloadMmapAddon()
    })
    after(() => {
      if (native === undefined) delete process.env['MEMWEAVE_NATIVE']
      else process.env['MEMWEAVE_NATIVE'] = native
      reloadMmapAddon()
    })
    test('the bytes are the file\'s, past the per-turn budget and past the end', async () => {
      assert.equal(mmapAddon() !== undefined, mode === 'page cache first')
      // The file says what its page cache holds (not tmpfs), so the synchronous path is the one taken.
      if (mode === 'page cache first') assert.equal(mmapAddon()?.preadNowait(fd, Buffer.alloc(4096), 0, 4096, 0), 4096)
      assert.ok(bytes.length > SYNC_BYTES_PER_TURN * 2)
      await readAll()
    })
    test('a bad descriptor fails the read instead of throwing', async () => {
      await assert.rejects(preadInto(1 << 30, Buffer.alloc(MIB), 0, MIB, 0), (err: unknown) => err instanceof Error && 'code' in err && err.code === 'EBADF')
    })
  })
}
