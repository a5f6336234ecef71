/**
 * Mountpoint checks: mountinfo parsing (with its octal escapes) and the
 * refusals for paths that cannot be mounted on. Dead and live mounts are
 * tested with real mounts in test/fuse-mounts.test.ts.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { pino } from 'pino'
import { MemweaveError } from '../../errors/index.js'
import { mountAt, parseMountinfo, prepareMountpoint } from './mountpoint.js'

const SAMPLE = [
  '22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/vda rw',
  '45 22 0:40 / /tmp/with\\040space rw,nosuid,nodev,relatime shared:30 - fuse.memweave memweave rw,user_id=0,group_id=0',
  '46 22 0:41 / /mnt/a rw master:3 opt:x - tmpfs none rw',
  '',
].join('\n')

test('mountinfo records give mountpoint, type and source, unescaped, optional fields skipped', () => {
  assert.deepEqual(parseMountinfo(SAMPLE), [
    { mountpoint: '/', fstype: 'ext4', source: '/dev/vda' },
    { mountpoint: '/tmp/with space', fstype: 'fuse.memweave', source: 'memweave' },
    { mountpoint: '/mnt/a', fstype: 'tmpfs', source: 'none' },
  ])
})

test('the root is a mount point; a fresh directory is not', async () => {
  assert.notEqual(await mountAt('/'), undefined)
  const dir = await mkdtemp(join(tmpdir(), 'mw-mountpoint-'))
  try {
    assert.equal(await mountAt(dir), undefined)
  } finally {
    await rm(dir, { recursive: true })
  }
})

test('a plain directory is ready; a missing path, a file and a live mount are refused', async () => {
  const log = pino({ level: 'silent' })
  const dir = await mkdtemp(join(tmpdir(), 'mw-mountpoint-'))
  try {
    assert.equal(await prepareMountpoint(dir, log), dir)
    assert.equal(await prepareMountpoint(`${dir}/./x/..`, log), dir, 'paths come back normalized, as mountinfo will show them')
    await writeFile(join(dir, 'file'), 'x')
    await assert.rejects(prepareMountpoint(join(dir, 'file'), log), (err: unknown) => err instanceof MemweaveError && err.kind === 'invalid_argument')
    await assert.rejects(prepareMountpoint(join(dir, 'absent'), log), (err: unknown) => err instanceof MemweaveError && err.kind === 'not_found' && err.message.includes('does not exist'))
    await assert.rejects(prepareMountpoint(join(dir, 'x'.repeat(1100)), log), (err: unknown) => err instanceof MemweaveError && err.kind === 'invalid_argument')
    await assert.rejects(prepareMountpoint('/', log), (err: unknown) => err instanceof MemweaveError && err.kind === 'busy' && err.message.includes('already a mount point'))
  } finally {
    await rm(dir, { recursive: true })
  }
})
