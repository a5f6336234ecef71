/**
 * Protocol 1.2 events over a real socket: `progress` for a running rpc (by
 * its request id) and `cancel` stopping it; a pushed `stale` event when an
 * open handle's object goes away; and a 1.1 client gets none of them (it
 * would not know them), which the order of replies proves without waiting.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { BufferMemory } from '../src/mem/index.js'
import { Lifetime, memLeaf, rpcLeaf, staticBranch, Tree } from '../src/tree/index.js'
import { RawPeer, serve } from './protocol-kit.js'
import type { TestServer } from './protocol-kit.js'

let server: TestServer
let lifetime: Lifetime
const STEPS = 1000

before(async () => {
  const tree = new Tree({ allowWrite: false })
  lifetime = new Lifetime("object 'events'")
  tree.setRoot(staticBranch({
    // Counts to STEPS, reporting each step and yielding, unless cancelled first.
    count: rpcLeaf('events/count', lifetime, async (_request, context) => {
      for (let i = 1; i <= STEPS; i++) {
        if (context.signal?.aborted === true) return { cancelled: true, at: i }
        context.progress?.(i, STEPS)
        await new Promise((resolve) => setImmediate(resolve))
      }
      return { cancelled: false, at: STEPS }
    }),
    mem: memLeaf({ identity: 'events/mem', lifetime, mem: new BufferMemory(new Uint8Array(4096)) }),
  }))
  server = await serve(tree, { tcp: false })
})
after(async () => { await server?.stop() })

async function peer(minor: number): Promise<RawPeer> {
  const raw = await RawPeer.connect(server.unixUrl)
  raw.send({ id: 0, op: 'hello', version: { major: 1, minor } })
  assert.ok('result' in await raw.reply(0))
  return raw
}

async function openHandle(raw: RawPeer, id: number, path: string): Promise<number> {
  raw.send({ id, op: 'open', path })
  const reply = await raw.reply(id)
  const result = reply['result'] as { handle: number }
  return result.handle
}

test('a 1.2 client sees progress for its rpc by request id, and cancel stops it', async () => {
  const raw = await peer(2)
  const handle = await openHandle(raw, 1, 'count')
  raw.send({ id: 2, op: 'rpc', handle, request: null })
  const first = await raw.next()
  assert.equal(first['event'], 'progress')
  assert.equal(first['id'], 2)
  assert.equal(first['total'], STEPS)
  raw.send({ id: 3, op: 'cancel', target: 2 })
  const answer = await raw.reply(2)
  assert.deepEqual(answer['result'], { cancelled: true, at: (answer['result'] as { at: number }).at })
  assert.ok((answer['result'] as { at: number }).at < STEPS, 'stopped before the end')
  assert.equal((await raw.reply(3))['result'], null)
  raw.ws.close()
})

test('a 1.1 client gets no 1.2 events: the rpc reply comes with nothing before it', async () => {
  const raw = await peer(1)
  const handle = await openHandle(raw, 1, 'count')
  raw.send({ id: 2, op: 'rpc', handle, request: null })
  const reply = await raw.next()
  assert.equal(reply['id'], 2, `the first message after the request is its reply, not ${JSON.stringify(reply['event'])}`)
  raw.ws.close()
})

test('stale is pushed to a 1.2 client holding the handle, not to a 1.1 client', async () => {
  const newer = await peer(2)
  const older = await peer(1)
  const handle = await openHandle(newer, 1, 'mem')
  const olderHandle = await openHandle(older, 1, 'mem')
  assert.equal(olderHandle, handle)
  lifetime.end('was removed')
  const event = await newer.next()
  assert.deepEqual(event, { event: 'stale', handle, reason: "object 'events' was removed" })
  // The end above ran before this ping was sent; an event for the older client would be ahead of its reply.
  older.send({ id: 2, op: 'ping' })
  assert.equal((await older.next())['id'], 2)
  newer.ws.close()
  older.ws.close()
})
