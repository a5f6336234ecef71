import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MemweaveError } from '../errors/index.js'
import { ChangeBus } from '../tree/index.js'
import { ConnectionWatches } from './connection-watches.js'
import type { ChangeEvent, ObjectEvent } from './messages.js'

function setup(maxWatches = 4): { bus: ChangeBus; watches: ConnectionWatches; sent: Array<ChangeEvent | ObjectEvent>; reading: { on: boolean } } {
  const bus = new ChangeBus()
  const sent: Array<ChangeEvent | ObjectEvent> = []
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

test('a watch that asks for objects gets appeared/gone for those under it; other watches get the change', () => {
  const { bus, watches, sent, reading } = setup()
  const plain = watches.add('os')
  const detailed = watches.add('os/g/processes', true)
  const one = watches.add('os/g/processes/by-pid/7', true)
  assert.ok(bus.wantsPolled('os/g/processes'))
  const changes = [
    { change: 'appeared' as const, path: 'os/g/processes/by-pid/9', object: { pid: 9, ppid: 1, name: 'sh' } },
    { change: 'gone' as const, path: 'os/g/processes/by-pid/8', object: { pid: 8, ppid: 1, name: 'sleep' } },
  ]
  bus.notify('os/g/processes', changes)
  assert.deepEqual(sent, [
    { event: 'change', watchId: plain, path: 'os/g/processes' },
    { event: 'appeared', watchId: detailed, path: 'os/g/processes/by-pid/9', object: { pid: 9, ppid: 1, name: 'sh' } },
    { event: 'gone', watchId: detailed, path: 'os/g/processes/by-pid/8', object: { pid: 8, ppid: 1, name: 'sleep' } },
  ], `pid 7's watch hears nothing of 8 and 9 (${one})`)
  // While the client is not reading, what it misses is held as one change of the branch.
  sent.length = 0
  reading.on = false
  bus.notify('os/g/processes', changes)
  reading.on = true
  watches.flush()
  assert.deepEqual(sent.map((e) => `${e.event}:${e.watchId}:${e.path}`), [`change:${plain}:os/g/processes`, `change:${detailed}:os/g/processes`])
})

test('polling is wanted only while a watch covers the path', () => {
  const { bus, watches } = setup()
  assert.equal(bus.wantsPolled('os/g/processes'), false)
  bus.subscribe('', () => undefined) // an in-process listener that did not ask for polled changes
  assert.equal(bus.wantsPolled('os/g/processes'), false)
  const id = watches.add('connector')
  assert.equal(bus.wantsPolled('os/g/processes'), false)
  watches.add('os/g')
  assert.equal(bus.wantsPolled('os/g/processes'), true)
  watches.remove(id)
})
