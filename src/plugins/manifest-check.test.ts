import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MemweaveError } from '../errors/index.js'
import { validateManifest } from './manifest-check.js'
import { definePlugin } from './plugin-api.js'
import { manifestOf } from './sandbox/runtime/manifest.js'

function refused(pattern: RegExp) {
  return (err: unknown): boolean => err instanceof MemweaveError && err.kind === 'invalid_argument' && pattern.test(err.message)
}

const good = definePlugin({
  name: 'demo', version: '1.2.3', attachesTo: 'process', filter: { name: 'sshd' }, description: 'd',
  leaves: { 'a.txt': { read: () => 'a' }, call: { rpc: () => 1, description: 'calls' }, both: { read: () => '', write: () => {} } },
  branches: { items: { list: () => ['x'], read: () => 'x' } },
  onEvent: () => {},
})

test('manifestOf reads the definition; validateManifest keeps only known fields', () => {
  const manifest = validateManifest({ ...manifestOf(good), extra: 'ignored' })
  assert.deepEqual(manifest, {
    name: 'demo', version: '1.2.3', attachesTo: 'process', filter: { name: 'sshd' }, needsWrite: false, description: 'd', events: true,
    leaves: [
      { name: 'a.txt', branch: false, read: true, rpc: false, write: false, description: '' },
      { name: 'call', branch: false, read: false, rpc: true, write: false, description: 'calls' },
      { name: 'both', branch: false, read: true, rpc: false, write: true, description: '' },
      { name: 'items', branch: true, read: true, rpc: false, write: false, description: '' },
    ],
  })
})

test('bad manifests are refused with the reason', () => {
  const base = manifestOf(good)
  assert.throws(() => manifestOf(42), /must export `plugin`/)
  assert.throws(() => validateManifest('x'), refused(/not an object/))
  assert.throws(() => validateManifest({ ...base, name: 'Bad Name' }), refused(/name must match/))
  assert.throws(() => validateManifest({ ...base, version: '' }), refused(/version/))
  assert.throws(() => validateManifest({ ...base, attachesTo: 'thread' }), refused(/attachesTo must be/))
  assert.throws(() => validateManifest({ ...base, leaves: [] }), refused(/defines no leaves/))
  assert.throws(() => validateManifest({ ...base, leaves: [{ name: 'a/b', read: true }] }), refused(/leaf name/))
  assert.throws(() => validateManifest({ ...base, leaves: [{ name: '..', read: true }] }), refused(/leaf name/))
  assert.throws(() => validateManifest({ ...base, leaves: [{ name: 'idle' }] }), refused(/no read, rpc or write handler/))
  assert.throws(() => validateManifest({ ...base, leaves: [{ name: 'a', read: true }, { name: 'a', rpc: true }] }), refused(/defines 'a' twice/))
  assert.throws(() => validateManifest({ ...base, leaves: Array.from({ length: 65 }, (_, i) => ({ name: `l${i}`, read: true })) }), refused(/limit 64/))
  assert.throws(() => validateManifest({ ...base, filter: { pid: 3 } }), refused(/plugin 'demo': filter: 'pid' is not a filter field/))
})
