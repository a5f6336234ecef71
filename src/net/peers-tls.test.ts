/** The node certificate is made once (real openssl) and reused; fingerprints normalize. */
import assert from 'node:assert/strict'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { ensureNodeCertificate, normalizeFingerprint, stateDirectory } from './peers-tls.js'

test('a self-signed certificate is made on first use and kept', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mw-tls-'))
  try {
    const first = await ensureNodeCertificate(join(dir, 'state'))
    assert.equal(first.created, true)
    assert.match(first.fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/)
    assert.equal((await stat(first.keyFile)).mode & 0o077, 0, 'the key is private')
    const again = await ensureNodeCertificate(join(dir, 'state'))
    assert.equal(again.created, false)
    assert.equal(again.fingerprint, first.fingerprint)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('fingerprints: colons, case and a sha256 prefix do not matter', () => {
  const canonical = Array.from({ length: 32 }, (_, i) => i.toString(16).padStart(2, '0').toUpperCase()).join(':')
  assert.equal(normalizeFingerprint(canonical.toLowerCase().replaceAll(':', '')), canonical)
  assert.equal(normalizeFingerprint(`SHA256:${canonical}`), canonical)
  assert.throws(() => normalizeFingerprint('12:34'), /not a SHA-256 fingerprint/)
})

test('the state directory', () => {
  assert.equal(stateDirectory({ MEMWEAVE_STATE_DIR: '/x' }, 1000), '/x')
  assert.equal(stateDirectory({}, 0), '/var/lib/memweave')
  assert.equal(stateDirectory({ XDG_STATE_HOME: '/home/u/.st' }, 1000), '/home/u/.st/memweave')
})
