import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MemweaveError } from '../errors/index.js'
import { ChangeBus } from '../tree/index.js'
import { ConnectionWatches } from './connection-watches.js'
import type { ChangeEvent } from './messages.js'

function setup(maxWatches = 4): { bus: ChangeBus; watches: ConnectionWatches; sent: ChangeEvent[]; reading: { on: boolean } } {
  const bus = new ChangeBus()
  const sent: ChangeEvent[] = []
  const reading = { on: true }
  const watches = new ConnectionWatches(bus, maxWatches, (event) => {
    if (!reading.on) return false
    sent.push(event)
    return true
  })
  return { bus, watches, sent, reading }
}

test('changes at or below a watched path become events; unwatched ones stop', () => {
  const { bus, watches, sent } = setup()
  const id = watches.add('/os//g/')
  bus.notify('os/g/processes')
  bus.notify('connector/x')
  assert.deepEqual(sent, [{ event: 'change', watchId: id, path: 'os/g/processes' }])
  watches.remove(id)
  bus.notify('os/g/processes')
  assert.equal(sent.length, 1)
  assert.throws(() => watches.remove(id), (err: unknown) => err instanceof MemweaveError && err.kind === 'not_found')
})

test('events wait while the client is not reading, deduplicated, and collapse when too many', () => {
  const { bus, watches, sent, reading } = setup()
  const a = watches.add('a')
  const b = watches.add('b')
  reading.on = false
  bus.notify('a/1')
  bus.notify('a/1')
  bus.notify('b/2')
  reading.on = true
  watches.flush()
  assert.deepEqual(sent.map((e) => `${e.watchId}:${e.path}`), [`${a}:a/1`, `${b}:b/2`])
  sent.length = 0
  reading.on = false
  for (let i = 0; i < 2000; i++) bus.notify(`a/${i}`)
  reading.on = true
  watches.flush()
  assert.deepEqual(sent, [{ event: 'change', watchId: a, path: 'a' }])
})

test('the number of watches is limited and clear() unsubscribes everything', () => {
  const { bus, watches, sent } = setup(2)
  watches.add('a')
  watches.add('b')
  assert.throws(() => watches.add('c'), (err: unknown) => err instanceof MemweaveError && err.kind === 'limit')
  watches.clear()
  bus.notify('a')
  assert.equal(sent.length, 0)
  watches.add('c')
})
