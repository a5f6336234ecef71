/**
 * The daemon under abuse: garbage frames, text frames, wrong field types,
 * oversized messages, clients that vanish mid-request or stop reading, and
 * too many requests in flight. Each time the offending connection gets an
 * error (or is closed) and every other client keeps being served.
 */
import assert from 'node:assert/strict'
import { mock, test } from 'node:test'
import { MemweaveError } from '../src/errors/index.js'
import { CLOSE_CODES, connectClient } from '../src/net/index.js'
import type { ProtocolClient } from '../src/net/index.js'
import { KERNEL_BASE, makeTree, RawPeer, serve } from './protocol-kit.js'
import { waitFor } from './wait-for.js'

const PROTOCOL = 6000 + 14 // origin net, kind protocol
const MALFORMED = 6000 + 12

function errorOf(message: Record<string, unknown>): { code: number; message: string } {
  const error = message.error
  assert.ok(typeof error === 'object' && error !== null && 'code' in error && 'message' in error, 'an error message')
  return { code: Number(error.code), message: String(error.message) }
}

async function stillServes(client: ProtocolClient): Promise<void> {
  const { handle } = await client.open('data/kmem')
  const [piece] = await client.read(handle, [{ addr: KERNEL_BASE + 1n, length: 2 }])
  assert.ok(piece?.ok)
  assert.deepEqual([...piece.data], [7, 14])
  await client.close(handle)
}

test('malformed frames get errors, the connection survives them, and repeated garbage closes only it', async () => {
  const t = makeTree()
  const srv = await serve(t.tree, { limits: { maxProtocolErrors: 9 } })
  const bystander = await connectClient(srv.tcpUrl)
  const peer = await RawPeer.connect(srv.unixUrl)
  try {
    assert.ok('result' in (await peer.hello()))
    peer.ws.send(Buffer.from([0xc1, 0xff, 0x00, 0x13]))
    const garbage = await peer.next()
    assert.equal(garbage.event, 'protocol-error')
    assert.equal(errorOf(garbage).code, MALFORMED)

    peer.ws.send('{"id":1,"op":"list","path":""}')
    const textFrame = await peer.next()
    assert.equal(textFrame.event, 'protocol-error')
    assert.match(errorOf(textFrame).message, /text frames/)

    peer.send({ id: 5, op: 'read', handle: 'one', pieces: 3 })
    assert.match(errorOf(await peer.reply(5)).message, /read request\.handle must be an integer/)
    peer.send({ id: 6, op: 'read', handle: 1, pieces: [{ addr: 'kernel', length: 1 }] })
    const badAddr = errorOf(await peer.reply(6))
    assert.equal(badAddr.code, PROTOCOL)
    assert.match(badAddr.message, /pieces\[0\]\.addr must be a 64-bit integer/)
    peer.send({ id: 7, op: 'explode' })
    assert.match(errorOf(await peer.reply(7)).message, /unknown op 'explode'/)
    peer.send([1, 2, 3])
    assert.equal((await peer.next()).event, 'protocol-error')
    peer.send({ id: -1, op: 'list', path: '' })
    assert.equal((await peer.next()).event, 'protocol-error')
    peer.send({ id: 8, op: 'hello', version: { major: 1, minor: 0 } })
    assert.match(errorOf(await peer.reply(8)).message, /already/)

    // Eight bad messages so far; the connection still answers good ones.
    peer.send({ id: 9, op: 'list', path: 'data' })
    const listed = await peer.reply(9)
    assert.ok(Array.isArray(listed.result))
    await stillServes(bystander)

    peer.ws.send(Buffer.from('not msgpack at all, ninth strike'))
    assert.deepEqual(await peer.closed, { code: CLOSE_CODES.tooManyErrors, reason: 'too many malformed messages' })
    await stillServes(bystander)
    await waitFor('the bad connection to be gone', () => srv.server.connections() === 1)
  } finally {
    peer.ws.terminate()
    await bystander.disconnect()
    await srv.stop()
  }
})

test('the first message must be hello', async () => {
  const t = makeTree()
  const srv = await serve(t.tree, { tcp: false })
  const peer = await RawPeer.connect(srv.unixUrl)
  try {
    peer.send({ id: 1, op: 'list', path: '' })
    assert.match(errorOf(await peer.reply(1)).message, /first message must be hello/)
    assert.equal((await peer.closed).code, CLOSE_CODES.protocolError)
  } finally {
    await srv.stop()
  }
})

test('a connection that never says hello is closed', async () => {
  const t = makeTree()
  const srv = await serve(t.tree, { tcp: false, limits: { helloTimeoutMs: 50 } })
  const peer = await RawPeer.connect(srv.unixUrl)
  try {
    assert.equal((await peer.closed).code, CLOSE_CODES.helloTimeout)
  } finally {
    await srv.stop()
  }
})

test('an oversized frame is refused before decoding; the client splits writes to fit', async () => {
  const t = makeTree()
  const srv = await serve(t.tree, { limits: { maxMessageBytes: 64 * 1024 } })
  const bystander = await connectClient(srv.tcpUrl)
  const peer = await RawPeer.connect(srv.unixUrl)
  try {
    await peer.hello()
    peer.ws.send(Buffer.alloc(100 * 1024, 0x91))
    assert.equal((await peer.closed).code, CLOSE_CODES.tooBig)
    await stillServes(bystander)

    const { handle } = await bystander.open('data/kmem')
    const [tooBig] = await bystander.write(handle, [{ addr: KERNEL_BASE, data: new Uint8Array(100 * 1024) }])
    assert.ok(tooBig !== undefined && !tooBig.ok && tooBig.error.kind === 'too_large')
    const pieces = Array.from({ length: 6 }, (_, i) => ({ addr: KERNEL_BASE + BigInt(i * 30_000), data: new Uint8Array(30_000).fill(i + 1) }))
    assert.ok((await bystander.write(handle, pieces)).every((w) => w.ok))
    assert.equal(t.kmem.bytes[5 * 30_000], 6)
    // Reads are not limited by the incoming message size: the reply may be bigger.
    const [big] = await bystander.read(handle, [{ addr: KERNEL_BASE, length: 200_000 }])
    assert.ok(big?.ok && big.data.length === 200_000)
    assert.ok(!bystander.closed)
  } finally {
    await bystander.disconnect()
    await srv.stop()
  }
})

test('a batch with more pieces than the tree allows is refused with too_large', async () => {
  const t = makeTree({ maxPieces: 4 })
  const srv = await serve(t.tree, { tcp: false })
  const peer = await RawPeer.connect(srv.unixUrl)
  try {
    await peer.hello()
    peer.send({ id: 1, op: 'open', path: 'data/kmem' })
    const opened = await peer.reply(1)
    const handle = (opened.result as { handle: number }).handle
    peer.send({ id: 2, op: 'read', handle, pieces: Array.from({ length: 5 }, () => ({ addr: KERNEL_BASE, length: 1 })) })
    const refused = errorOf(await peer.reply(2))
    assert.equal(MemweaveError.fromCode(refused.code, refused.message).kind, 'too_large')
  } finally {
    peer.ws.terminate()
    await srv.stop()
  }
})

test('a client that vanishes mid-request loses its handles; late replies and opens are dropped harmlessly', async () => {
  const t = makeTree()
  const srv = await serve(t.tree)
  const bystander = await connectClient(srv.tcpUrl)
  const kept = await bystander.open('data/kmem')
  const peer = await RawPeer.connect(srv.unixUrl)
  try {
    await peer.hello()
    peer.send({ id: 1, op: 'open', path: 'data/slow' })
    const handle = ((await peer.reply(1)).result as { handle: number }).handle
    let releaseRead = (): void => {}
    t.slow.gate = new Promise<void>((resolve) => { releaseRead = resolve })
    let releaseOpen = (): void => {}
    t.gated.openGate = new Promise<void>((resolve) => { releaseOpen = resolve })
    peer.send({ id: 2, op: 'read', handle, pieces: [{ addr: 0n, length: 4096 }] })
    peer.send({ id: 3, op: 'open', path: 'data/gated' })
    await waitFor('the read and the open to be in flight', () => t.slow.reads === 1 && t.gated.opens === 1)
    assert.equal(t.tree.handles.size, 2)

    peer.ws.terminate()
    await waitFor('the server to notice', () => srv.server.connections() === 1)
    await waitFor('the slow handle to be dropped', () => t.tree.handles.size === 1)
    releaseRead()
    releaseOpen()
    // The open finished after its connection was gone: its reference is dropped as well.
    await waitFor('the late open to be released', () => t.gated.closes === 1)
    assert.deepEqual(t.tree.handles.summaries().map((h) => h.path), ['data/kmem'])
    const [piece] = await bystander.read(kept.handle, [{ addr: KERNEL_BASE, length: 1 }])
    assert.ok(piece?.ok)
  } finally {
    await bystander.disconnect()
    await srv.stop()
  }
})

test('beyond the in-flight limit requests get limit errors, not a queue; the client queues for itself', async () => {
  const t = makeTree()
  const srv = await serve(t.tree, { limits: { maxInFlight: 4 } })
  const peer = await RawPeer.connect(srv.unixUrl)
  const client = await connectClient(srv.tcpUrl)
  try {
    await peer.hello()
    peer.send({ id: 1, op: 'open', path: 'data/slow' })
    const handle = ((await peer.reply(1)).result as { handle: number }).handle
    let release = (): void => {}
    t.slow.gate = new Promise<void>((resolve) => { release = resolve })
    for (let id = 10; id < 16; id++) peer.send({ id, op: 'read', handle, pieces: [{ addr: 0n, length: 8 }] })
    for (const id of [14, 15]) {
      const refused = errorOf(await peer.reply(id))
      assert.equal(MemweaveError.fromCode(refused.code, refused.message).kind, 'limit')
    }
    const opened = await client.open('data/slow')
    const queued = Promise.all(Array.from({ length: 10 }, () => client.read(opened.handle, [{ addr: 0n, length: 8 }])))
    await waitFor('four reads from each connection', () => t.slow.reads === 8)
    release()
    for (let id = 10; id < 14; id++) assert.ok('result' in (await peer.reply(id)))
    const results = await queued
    assert.ok(results.every(([r]) => r?.ok === true))
    assert.equal(t.slow.reads, 14)
  } finally {
    peer.ws.terminate()
    await client.disconnect()
    await srv.stop()
  }
})

test('a client that stops reading stops being served until it drains', async () => {
  const t = makeTree({ memBytes: 4 << 20 })
  const srv = await serve(t.tree, { limits: { maxBufferedBytes: 1 << 20 } })
  const bystander = await connectClient(srv.tcpUrl)
  const peer = await RawPeer.connect(srv.unixUrl)
  try {
    await peer.hello()
    peer.send({ id: 1, op: 'open', path: 'data/kmem' })
    const handle = ((await peer.reply(1)).result as { handle: number }).handle
    const readsBefore = t.kmem.reads
    peer.ws.pause()
    // 4 MiB of reply, far above the 1 MiB the server lets pile up for one client.
    peer.send({ id: 10, op: 'read', handle, pieces: Array.from({ length: 4 }, () => ({ addr: KERNEL_BASE, length: 1 << 20 })) })
    await waitFor('the first read to run', () => t.kmem.reads === readsBefore + 1)
    for (let id = 20; id < 28; id++) peer.send({ id, op: 'read', handle, pieces: [{ addr: KERNEL_BASE, length: 1 << 20 }] })
    // The paused client's requests are on the wire (written to its socket) before the bystander asks anything.
    await waitFor("the paused client's requests to leave its buffer", () => peer.ws.bufferedAmount === 0)
    // Ordering, not time: the bystander's open, read and close are three round trips through the same
    // event loop, sent after those requests; a daemon that served the paused client would have run
    // them by the bystander's last reply. It has not: only the bystander's read ran.
    await stillServes(bystander)
    assert.equal(t.kmem.reads, readsBefore + 2, 'only the bystander read ran')
    peer.ws.resume()
    const first = (await peer.reply(10)).result as Array<{ data: Uint8Array }>
    assert.deepEqual(first.map((p) => p.data.length), [1 << 20, 1 << 20, 1 << 20, 1 << 20])
    for (let id = 20; id < 28; id++) {
      const [piece] = (await peer.reply(id)).result as Array<{ data: Uint8Array }>
      assert.equal(piece?.data.length, 1 << 20)
    }
    assert.equal(t.kmem.reads, readsBefore + 10)
  } finally {
    peer.ws.terminate()
    await bystander.disconnect()
    await srv.stop()
  }
})

test('a client that answers no pings is cut off and loses its handles; one that idles stays', async () => {
  // The heartbeat is driven by hand (setInterval mocked, nothing else), so a loaded machine cannot
  // make the live client miss a beat: each beat is a tick, and a client's pong is known to have
  // arrived once a request it sent after the ping has been answered.
  const HEARTBEAT_MS = 30
  mock.timers.enable({ apis: ['setInterval'] })
  const t = makeTree()
  const srv = await serve(t.tree, { tcp: false, limits: { heartbeatMs: HEARTBEAT_MS } })
  const live = await connectClient(srv.unixUrl)
  const peer = await RawPeer.connect(srv.unixUrl)
  /** One heartbeat; then a live client's round trips (which follow the ping on its socket) carry its pong back. */
  const beat = async (): Promise<void> => {
    mock.timers.tick(HEARTBEAT_MS)
    await stillServes(live)
  }
  try {
    await peer.hello()
    peer.send({ id: 1, op: 'open', path: 'data/slow' })
    await peer.reply(1)
    assert.equal(t.tree.handles.size, 1)
    peer.ws.pause() // a hung client: reads nothing, answers nothing
    await beat() // pings everyone
    assert.equal(srv.server.connections(), 2, 'one unanswered ping is not yet a miss')
    await beat() // the hung client has not answered: cut off
    await waitFor('the silent client to be cut off', () => srv.server.connections() === 1)
    await waitFor('its handle to be released', () => t.tree.handles.size === 0)
    // A client that merely idles answers pings by itself and stays, beat after beat.
    for (let i = 0; i < 3; i++) await beat()
    assert.equal(srv.server.connections(), 1)
  } finally {
    peer.ws.terminate()
    await live.disconnect()
    await srv.stop()
    mock.timers.reset()
  }
})
