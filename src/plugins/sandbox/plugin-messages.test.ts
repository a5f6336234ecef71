import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parsePluginMessage } from './plugin-messages.js'

test('what a plugin sends becomes one of the channel types, or a violation', () => {
  assert.deepEqual(parsePluginMessage({ event: 'ready', manifest: { name: 'x' } }), { type: 'notice', notice: { event: 'ready', manifest: { name: 'x' } } })
  assert.deepEqual(parsePluginMessage({ event: 'failed', message: 'y'.repeat(600) }), { type: 'notice', notice: { event: 'failed', message: 'y'.repeat(500) } })
  assert.deepEqual(parsePluginMessage({ event: 'failed' }), { type: 'notice', notice: { event: 'failed', message: 'unknown reason' } })
  assert.deepEqual(parsePluginMessage({ op: 'progress', call: 3, fraction: 0.5, note: 'half' }), { type: 'notice', notice: { op: 'progress', call: 3, fraction: 0.5, note: 'half' } })
  assert.deepEqual(parsePluginMessage({ op: 'progress', call: 3, fraction: 0.5, note: 7 }), { type: 'notice', notice: { op: 'progress', call: 3, fraction: 0.5 } })
  assert.deepEqual(parsePluginMessage({ op: 'progress', call: '3', fraction: 0.5 }), { type: 'ignored' })
  assert.deepEqual(parsePluginMessage({ id: 4, result: [1] }), { type: 'reply', reply: { id: 4, result: [1] } })
  assert.deepEqual(parsePluginMessage({ id: 4, error: { kind: 'not_found', message: 'gone' } }), { type: 'reply', reply: { id: 4, error: { kind: 'not_found', message: 'gone' } } })
  assert.deepEqual(parsePluginMessage({ id: 4, error: { kind: 'made-up', message: 5 } }), { type: 'reply', reply: { id: 4, error: { kind: 'internal', message: 'failed' } } })
  const callback = parsePluginMessage({ id: 5, op: 'read', token: 't', pieces: [] })
  assert.equal(callback.type, 'callback')
  assert.ok(callback.type === 'callback' && callback.op === 'read' && callback.id === 5 && callback.body['token'] === 't')
  assert.deepEqual(parsePluginMessage([1, 2]), { type: 'violation', why: 'a message that is not a map' })
  assert.deepEqual(parsePluginMessage({ id: 6, op: 'spawn' }), { type: 'violation', why: "unexpected message 'spawn'" })
  assert.deepEqual(parsePluginMessage({ id: '6', op: 'read' }), { type: 'violation', why: "unexpected message 'read'" })
})
