/**
 * The TCP data channel (protocol 1.6, src/net/data-channel.ts) over real
 * loopback TCP: a server in this process on the test tree (unmapped ranges
 * give per-piece failures), and real daemons for the disconnect, TLS and
 * two-hop cases. Bytes equal the source through readInto and read, pipelined;
 * a failed piece stays that piece's error; a client cut off mid-transfer
 * leaves no budget or scratch behind and the next client is served; forged,
 * replayed and foreign tickets are refused with a reason; bytes a client
 * writes on its channel close that session only; a client or daemon without
 * the feature still works over the WebSocket.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { MemweaveError } from '../src/errors/index.js'
import { connectClient, fingerprintOf, startServer } from '../src/net/index.js'
import type { ProtocolClient } from '../src/net/index.js'
import { tokenDigest } from '../src/net/auth/credentials.js'
import { READ_SCRATCH } from '../src/net/scratch-pool.js'
import { rawTicket, upgrade } from './channel-kit.js'
import { startDaemon } from './cli-kit.js'
import type { RunningDaemon } from './cli-kit.js'
import { KERNEL_BASE, makeTree, RawPeer, serve, testLog } from './protocol-kit.js'
import type { TestServer, TestTree } from './protocol-kit.js'
import { waitFor } from './wait-for.js'

const MIB = 1 << 20
const MEM_BYTES = 8 * MIB
const pattern = (i: number): number => (i * 7) & 0xff

let t: TestTree
let server: TestServer
const clients: ProtocolClient[] = []

async function client(options: Parameters<typeof connectClient>[1] = {}): Promise<ProtocolClient> {
  const c = await connectClient(server.tcpUrl, { token: server.tcpToken, name: 'test', ...options })
  clients.push(c)
  return c
}

function expectPattern(bytes: Uint8Array, from: number, what: string): void {
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== pattern(from + i)) assert.fail(`${what}: byte ${i} is ${bytes[i]}, expected ${pattern(from + i)}`)
  }
}

before(async () => {
  t = makeTree({ memBytes: MEM_BYTES })
  server = await serve(t.tree)
})

after(async () => {
  await Promise.all(clients.map((c) => c.disconnect()))
  await server.stop()
})

describe('one hop (a server in this process, real TCP)', () => {
  test('hello offers the channel; readInto over it equals the bytes, a failed piece keeps its own error', async () => {
    const c = await client()
    assert.equal(c.serverInfo.dataChannel, true)
    assert.equal(c.serverInfo.version.minor >= 6, true)
    assert.equal(await c.openDataChannel(), true)
    const { handle } = await c.open('data/kmem')
    const target = new Uint8Array(3 * MIB + 100)
    const results = await c.readInto(handle, [
      { addr: KERNEL_BASE, length: MIB, at: 0 },
      { addr: 0n, length: 100, at: MIB }, // unmapped: this piece alone fails
      { addr: KERNEL_BASE + 5n, length: 2 * MIB, at: MIB + 100 },
    ], target)
    assert.deepEqual(results.map((r) => r.ok ? r.length : r.error.kind), [MIB, 'unmapped', 2 * MIB])
    expectPattern(target.subarray(0, MIB), 0, 'first piece')
    expectPattern(target.subarray(MIB + 100), 5, 'third piece')
    assert.equal(c.dataChannel.active, true)
    // The 1 MiB piece and the 2 MiB one in two 1 MiB chunks came on the channel; the 100-byte one on the WebSocket.
    assert.equal(c.dataChannel.frames, 3, 'the big replies came on the channel')
    // read() gets fresh memory from the channel too; a piece past the region fails alone.
    const [whole, outside] = await c.read(handle, [{ addr: KERNEL_BASE + 3n, length: MIB }, { addr: KERNEL_BASE + BigInt(MEM_BYTES), length: MIB }])
    assert.ok(whole?.ok === true)
    expectPattern(whole.data, 3, 'read()')
    assert.equal(outside?.ok, false)
    assert.equal(c.dataChannel.frames, 4)
    await c.close(handle)
  })

  test('one big piece streams back in pipelined 1 MiB chunks; one that runs off the memory fails alone', async () => {
    const c = await client()
    await c.openDataChannel()
    const { handle } = await c.open('data/kmem')
    const target = new Uint8Array(6 * MIB + 10)
    const results = await c.readInto(handle, [
      { addr: KERNEL_BASE + 11n, length: 6 * MIB, at: 0 },
      { addr: KERNEL_BASE + BigInt(MEM_BYTES - 4), length: 10, at: 6 * MIB },
    ], target)
    assert.deepEqual(results.map((r) => (r.ok ? r.length : r.error.kind)), [6 * MIB, 'unmapped'])
    expectPattern(target.subarray(0, 6 * MIB), 11, 'the big piece')
    assert.equal(c.dataChannel.frames, 6)
    const [fresh, over] = await c.read(handle, [{ addr: KERNEL_BASE + 1n, length: 3 * MIB }, { addr: KERNEL_BASE + BigInt(MEM_BYTES - MIB), length: 3 * MIB }])
    assert.ok(fresh?.ok === true && fresh.data.length === 3 * MIB)
    expectPattern(fresh.data, 1, 'read() of a big piece')
    assert.equal(over?.ok === false && over.error.kind, 'unmapped')
    await c.close(handle)
  })

  test('many big reads in flight at once (pipelined) each get their own bytes', async () => {
    const c = await client()
    await c.openDataChannel()
    const { handle } = await c.open('data/kmem')
    const before = c.dataChannel.frames
    const count = 24
    const targets = Array.from({ length: count }, () => new Uint8Array(256 * 1024))
    const results = await Promise.all(targets.map((target, i) => c.readInto(handle, [{ addr: KERNEL_BASE + BigInt(i * 65_537), length: target.length, at: 0 }], target)))
    results.forEach(([r], i) => assert.equal(r?.ok && r.length, 256 * 1024, `read ${i}`))
    targets.forEach((target, i) => expectPattern(target, i * 65_537, `read ${i}`))
    assert.equal(c.dataChannel.frames - before, count)
    // Small reads stay on the WebSocket.
    const [small] = await c.read(handle, [{ addr: KERNEL_BASE + 9n, length: 4096 }])
    assert.ok(small?.ok === true)
    expectPattern(small.data, 9, 'small read')
    assert.equal(c.dataChannel.frames - before, count)
    await c.close(handle)
  })

  test('a client cut off with big reads in flight leaves nothing held, and the next client is served', async () => {
    const c = await client()
    await c.openDataChannel()
    const { handle } = await c.open('data/kmem')
    const targets = Array.from({ length: 8 }, () => new Uint8Array(MIB))
    const pending = targets.map((target, i) => c.readInto(handle, [{ addr: KERNEL_BASE + BigInt(i * MIB), length: MIB, at: 0 }], target))
    c.terminate()
    const outcomes = await Promise.allSettled(pending)
    for (const outcome of outcomes) if (outcome.status === 'rejected') assert.match(String(outcome.reason), /disconnected|closed/)
    await waitFor('the budget and scratch to come back', () => server.server.budget().usedBytes === 0 && READ_SCRATCH.stats.inUse === 0)
    await waitFor('the handle to be dropped', () => t.tree.handles.ownedBy(c.serverInfo.connection) === 0)
    const next = await client()
    await next.openDataChannel()
    const again = await next.open('data/kmem')
    const target = new Uint8Array(MIB)
    const [r] = await next.readInto(again.handle, [{ addr: KERNEL_BASE, length: MIB, at: 0 }], target)
    assert.equal(r?.ok && r.length, MIB)
    expectPattern(target, 0, 'the next client')
    await next.close(again.handle)
  })

  test('tickets: none, forged and replayed ones are refused with a reason; a good one works once', async () => {
    const none = await upgrade(server.tcpUrl, {})
    assert.equal(none.status, 403)
    assert.match(none.text, /no memweave-channel-ticket header/)
    const forged = await upgrade(server.tcpUrl, { 'Memweave-Channel-Ticket': 'f'.repeat(64) })
    assert.equal(forged.status, 403)
    assert.match(forged.text, /ticket is not valid/)
    const peer = await RawPeer.connect(server.tcpUrl)
    await peer.hello(server.tcpToken)
    const ticket = await rawTicket(peer, 1)
    const good = await upgrade(server.tcpUrl, { 'Memweave-Channel-Ticket': ticket })
    assert.equal(good.status, 101)
    const replayed = await upgrade(server.tcpUrl, { 'Memweave-Channel-Ticket': ticket })
    assert.equal(replayed.status, 403)
    assert.match(replayed.text, /ticket is not valid \(already used/)
    // A second channel for the same session is refused at the ticket.
    peer.send({ id: 2, op: 'channel' })
    assert.match(JSON.stringify(await peer.reply(2)), /already has a data channel/)
    good.socket.destroy()
    await peer.closed // the channel and its session end together
  })

  test('bytes a client writes on its channel close that session only, with the reason', async () => {
    const bystander = await client()
    await bystander.openDataChannel()
    const peer = await RawPeer.connect(server.tcpUrl)
    await peer.hello(server.tcpToken)
    const channel = await upgrade(server.tcpUrl, { 'Memweave-Channel-Ticket': await rawTicket(peer, 1) })
    assert.equal(channel.status, 101)
    channel.socket.write('not for you')
    const closed = await peer.closed
    assert.match(closed.reason, /data channel closed: the client wrote 11 bytes/)
    const { handle } = await bystander.open('data/kmem')
    const target = new Uint8Array(MIB)
    const [r] = await bystander.readInto(handle, [{ addr: KERNEL_BASE, length: MIB, at: 0 }], target)
    assert.equal(r?.ok && r.length, MIB)
    assert.equal(bystander.dataChannel.active, true)
    await bystander.close(handle)
  })

  test('a read-only, path-limited token reads over its channel only what it may', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mw-chanacl-'))
    const limited = await startServer({
      tree: t.tree, listen: ['ws://127.0.0.1:0'], token: 'admin-token', stateDir: dir, log: testLog(),
      tokenStore: () => [{ name: 'reader', role: 'read', paths: ['data/kmem'], digest: tokenDigest('reader-token') }],
    })
    try {
      const reader = await connectClient(limited.addresses[0] ?? '', { token: 'reader-token' })
      clients.push(reader)
      assert.equal(await reader.openDataChannel(), true)
      const { handle } = await reader.open('data/kmem')
      const target = new Uint8Array(MIB)
      const [r] = await reader.readInto(handle, [{ addr: KERNEL_BASE + 2n, length: MIB, at: 0 }], target)
      assert.equal(r?.ok && r.length, MIB)
      expectPattern(target, 2, 'the reader over its channel')
      assert.equal(reader.dataChannel.frames, 1)
      await assert.rejects(reader.open('data/slow'), (err: unknown) => err instanceof MemweaveError && err.kind === 'not_found')
      await assert.rejects(reader.write(handle, [{ addr: KERNEL_BASE, data: new Uint8Array(4) }]), /read role/)
      await reader.close(handle)
    } finally {
      await limited.close()
      await rm(dir, { recursive: true, force: true })
    }
  })

  test('the unix socket offers no channel; a client or daemon without the feature reads over the WebSocket', async () => {
    const unix = await connectClient(server.unixUrl)
    clients.push(unix)
    assert.equal(unix.serverInfo.dataChannel, undefined)
    assert.equal(await unix.openDataChannel(), false)
    const off = await client({ dataChannel: false })
    assert.equal(await off.openDataChannel(), false)
    const { handle } = await off.open('data/kmem')
    const target = new Uint8Array(2 * MIB)
    const [r] = await off.readInto(handle, [{ addr: KERNEL_BASE + 1n, length: 2 * MIB, at: 0 }], target)
    assert.equal(r?.ok && r.length, 2 * MIB)
    expectPattern(target, 1, 'over the WebSocket')
    assert.equal(off.dataChannel.frames, 0)
    await off.close(handle)
    const dir = await mkdtemp(join(tmpdir(), 'mw-nochan-'))
    const old = await startServer({ tree: t.tree, listen: ['ws://127.0.0.1:0'], token: 'old-daemon-token', stateDir: dir, log: testLog(), dataChannels: false })
    try {
      const c = await connectClient(old.addresses[0] ?? '', { token: 'old-daemon-token' })
      assert.equal(c.serverInfo.dataChannel, undefined)
      const opened = await c.open('data/kmem')
      const [big] = await c.readInto(opened.handle, [{ addr: KERNEL_BASE, length: MIB, at: 0 }], target)
      assert.equal(big?.ok && big.length, MIB)
      assert.equal(c.dataChannel.active, false)
      await c.disconnect()
    } finally {
      await old.close()
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('real daemons: two hops over TCP, and TLS', () => {
  let dir = ''
  let c: RunningDaemon | undefined
  let b: RunningDaemon | undefined
  let tls: RunningDaemon | undefined
  const image = new Uint8Array(6 * MIB).map((_, i) => (i * 131 + (i >> 12)) & 0xff)
  const env = (): { env: Record<string, string> } => ({ env: { MEMWEAVE_STATE_DIR: join(dir, 'state') } })

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mw-chan-'))
    await writeFile(join(dir, 'img.raw'), image)
    await writeFile(join(dir, 'token-c'), 'c-admin-token\n')
    c = await startDaemon(['--log-level', 'warn', '--listen', 'ws://127.0.0.1:0', '--token-file', join(dir, 'token-c'), '--with', `connector img file:${join(dir, 'img.raw')}`], env())
    b = await startDaemon(['--log-level', 'warn', '--listen', 'ws://127.0.0.1:0', '--token-file', join(dir, 'token-c'), '--connect', `c=${c.addresses[0]},token-file=${join(dir, 'token-c')}`], env())
    tls = await startDaemon(['--log-level', 'warn', '--listen', 'wss://127.0.0.1:0', '--token-file', join(dir, 'token-c'), '--with', `connector img file:${join(dir, 'img.raw')}`],
      { env: { MEMWEAVE_STATE_DIR: join(dir, 'state-tls') } })
  })

  after(async () => {
    await Promise.all([c, b, tls].flatMap((d) => (d === undefined ? [] : [d.stop()])))
    await rm(dir, { recursive: true, force: true })
  })

  const expectImage = (bytes: Uint8Array, from: number, what: string): void => {
    assert.ok(Buffer.from(bytes).equals(Buffer.from(image.subarray(from, from + bytes.length))), what)
  }

  test('A → B → C: big reads through the middle node come on both channels, pipelined', async () => {
    const a = await connectClient(b?.addresses[0] ?? '', { token: 'c-admin-token', name: 'test' })
    try {
      assert.equal(await a.openDataChannel(), true)
      await waitFor('B to reach C', async () => (await a.list('')).some((e) => e.name === 'c'))
      const { handle } = await a.open('c/connector/img/mem')
      const targets = Array.from({ length: 6 }, () => new Uint8Array(MIB))
      const results = await Promise.all(targets.map((target, i) => a.readInto(handle, [{ addr: BigInt(i * MIB), length: MIB, at: 0 }], target)))
      results.forEach(([r], i) => assert.equal(r?.ok && r.length, MIB, `read ${i}`))
      targets.forEach((target, i) => expectImage(target, i * MIB, `read ${i} through B`))
      assert.equal(a.dataChannel.frames, 6)
      // B's own reads of C came on its channel to C (sys/peers/list shows it).
      const { handle: list } = await a.open('sys/peers/list')
      const [listed] = await a.read(list, [{ addr: 0n, length: 1 << 16 }])
      await a.close(list)
      assert.ok(listed?.ok === true)
      const peers = JSON.parse(Buffer.from(listed.data).toString('utf8')) as Array<{ name: string; dataChannel: { active: boolean; frames: number } }>
      const toC = peers.find((p) => p.name === 'c')
      assert.equal(toC?.dataChannel.active, true)
      assert.ok((toC?.dataChannel.frames ?? 0) >= 1, `B's channel to C carried frames: ${JSON.stringify(toC)}`)
      await a.close(handle)
    } finally {
      await a.disconnect()
    }
  })

  test('over wss:// the channel is TLS too (pinned certificate), and the bytes are the same', async () => {
    const fingerprint = await fingerprintOf(join(dir, 'state-tls', 'tls-cert.pem'))
    const a = await connectClient(tls?.addresses[0] ?? '', { token: 'c-admin-token', tls: { fingerprint } })
    try {
      assert.equal(await a.openDataChannel(), true)
      const { handle } = await a.open('connector/img/mem')
      const target = new Uint8Array(3 * MIB)
      const results = await Promise.all([0, 1, 2].map((i) => a.readInto(handle, [{ addr: BigInt(i * MIB + 3), length: MIB, at: i * MIB }], target)))
      results.forEach(([r], i) => assert.equal(r?.ok && r.length, MIB, `read ${i}`))
      for (let i = 0; i < 3; i++) expectImage(target.subarray(i * MIB, (i + 1) * MIB), i * MIB + 3, `TLS read ${i}`)
      assert.equal(a.dataChannel.frames, 3)
      await a.close(handle)
    } finally {
      await a.disconnect()
    }
  })
})
