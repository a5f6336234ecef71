/** host/state-dir.ts: where the daemon keeps its private files, and the checks on that folder. */
import assert from 'node:assert/strict'
import { chmod, mkdtemp, rm, stat, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { MemweaveError } from '../errors/index.js'
import { ensurePrivateDir, runtimeStateDir } from './state-dir.js'

test('the state directory: configured, else /run for root, else XDG_RUNTIME_DIR, else /tmp by uid', () => {
  assert.equal(runtimeStateDir({ MEMWEAVE_STATE_DIR: '/x/state', XDG_RUNTIME_DIR: '/run/user/5' }, 0), '/x/state')
  assert.equal(runtimeStateDir({ XDG_RUNTIME_DIR: '/run/user/0' }, 0), '/run/memweave')
  assert.equal(runtimeStateDir({ XDG_RUNTIME_DIR: '/run/user/5' }, 5), '/run/user/5/memweave')
  assert.equal(runtimeStateDir({ MEMWEAVE_STATE_DIR: '', XDG_RUNTIME_DIR: 'relative' }, 5), '/tmp/memweave-5')
})

test('a private directory is made 0700, and one open to others, or a symlink, is refused', async () => {
  const base = await mkdtemp(join(tmpdir(), 'memweave-host-'))
  try {
    const made = await ensurePrivateDir(join(base, 'state'))
    assert.equal((await stat(made)).mode & 0o777, 0o700)
    await chmod(made, 0o755)
    await assert.rejects(ensurePrivateDir(made), (err: unknown) => err instanceof MemweaveError && err.kind === 'permission' && /chmod 700/.test(err.message))
    await symlink(made, join(base, 'link'))
    await assert.rejects(ensurePrivateDir(join(base, 'link')), (err: unknown) => err instanceof MemweaveError && err.kind === 'permission' && /not a directory/.test(err.message))
  } finally {
    await rm(base, { recursive: true, force: true })
  }
})
