/**
 * Frames a paused connection queued are handled under the same guard as
 * fresh ones: a bug while handling one costs that connection (closed with
 * internalError), never the daemon. The bug is injected (the tree's piece
 * limit throws while armed); the queue is filled the way a real client does
 * it, by reading past the memory budget.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { CLOSE_CODES } from '../src/net/index.js'
import { gate, KERNEL_BASE, makeTree, RawPeer, serve } from './protocol-kit.js'

test('a queued frame that throws while the queue drains closes only its connection', async () => {
  const t = makeTree()
  const maxPieces = t.tree.maxPieces
  let armed = false
  Object.defineProperty(t.tree, 'maxPieces', { get: () => { if (armed) throw new Error('injected bug'); return maxPieces } })
  const srv = await serve(t.tree, { tcp: false, limits: { budgetBytes: 64 * 1024, maxQueuedRequests: 1 } })
  const peer = await RawPeer.connect(srv.unixUrl)
  try {
    await peer.hello()
    peer.send({ id: 1, op: 'open', path: 'data/kmem' })
    const handle = ((await peer.reply(1)).result as { handle: number }).handle
    const held = gate()
    t.kmem.gate = held.promise
    const read = { op: 'read', handle, pieces: [{ addr: KERNEL_BASE, length: 60 * 1024 }] }
    peer.send({ id: 10, ...read }) // takes the budget, then waits in the source
    peer.send({ id: 11, ...read }) // no room: the connection pauses
    peer.send({ id: 12, op: 'list', path: '' }) // queued
    peer.send({ id: 13, op: 'list', path: '' }) // the queue is full: refused, which says 12 is queued
    const refused = await peer.reply(13)
    assert.ok('error' in refused && /queued/.test(JSON.stringify(refused.error)), 'the fourth request is refused: the third waits in the queue')
    armed = true
    held.open() // 10 answers, 11 gets the budget, the queue drains: 12 meets the bug
    assert.equal((await peer.closed).code, CLOSE_CODES.internalError)
    armed = false
    const other = await RawPeer.connect(srv.unixUrl)
    try {
      await other.hello()
      other.send({ id: 1, op: 'list', path: '' })
      assert.ok('result' in (await other.reply(1)), 'the daemon still serves')
    } finally {
      other.ws.terminate()
    }
  } finally {
    armed = false
    peer.ws.terminate()
    await srv.stop()
  }
})
