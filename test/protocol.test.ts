/**
 * End to end over real sockets: every op of the node protocol against a real
 * Tree, on a unix socket and on loopback TCP, with handle sharing across
 * connections, exact bigints, per-piece errors and watch events.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { MemweaveError } from '../src/errors/index.js'
import { connectClient, decodeMessage, encodeMessage, LocalTreeClient } from '../src/net/index.js'
import type { ProtocolClient } from '../src/net/index.js'
import { BUILTIN_CONNECTOR_KINDS, BUILTIN_MAPPINGS, BUILTIN_OS_KINDS, MemweaveNode } from '../src/node/index.js'
import { KERNEL_BASE, makeTree, serve, testLog } from './protocol-kit.js'
import { waitFor } from './wait-for.js'
import type { TestServer, TestTree } from './protocol-kit.js'
import { isKind } from './error-kit.js'

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString()

test('msgpack keeps 64-bit addresses, undefined sizes and bytes exact', () => {
  const value = { addr: KERNEL_BASE, top: 0xffff_ffff_ffff_ffffn, extent: 1n << 64n, small: 5n, negative: -3n, num: 2 ** 40, size: undefined, data: new Uint8Array([1, 2, 3]) }
  const back = decodeMessage(encodeMessage(value))
  assert.deepEqual(back, { ...value, data: Buffer.from([1, 2, 3]) })
  assert.equal(typeof (back as { num: unknown }).num, 'number')
})

for (const transport of ['unix', 'tcp'] as const) {
  describe(`protocol over ${transport}`, () => {
    let t: TestTree
    let srv: TestServer
    let client: ProtocolClient
    before(async () => {
      t = makeTree()
      srv = await serve(t.tree)
      client = await connectClient(transport === 'unix' ? srv.unixUrl : srv.tcpUrl, { log: testLog(), name: 'test' })
    })
    after(async () => {
      await client.disconnect()
      await srv.stop()
    })

    test('hello reports version, node info, limits and this connection', () => {
      assert.equal(client.serverInfo.version.major, 1)
      assert.deepEqual(client.serverInfo.node, { name: 'test-node' })
      assert.match(client.serverInfo.connection, /^conn-\d+$/)
      assert.equal(client.serverInfo.limits.maxInFlight, 256)
      assert.equal(client.serverInfo.limits.maxPieces, t.tree.maxPieces)
    })

    test('list and stat keep metadata types exact', async () => {
      const root = await client.list('')
      assert.deepEqual(root.map((e) => `${e.name}:${e.type}`), ['ctl:leaf', 'data:branch'])
      const data = await client.list('data')
      assert.deepEqual(data.map((e) => e.name), ['echo', 'gated', 'kmem', 'slow', 'text'])
      const stat = await client.stat('/data/kmem/')
      assert.deepEqual(stat, await t.tree.stat('data/kmem'))
      assert.equal(stat.meta?.sizeBytes, 1n << 64n)
      assert.deepEqual(await client.stat('data'), { path: 'data', type: 'branch' })
      await assert.rejects(client.stat('data/nope'), (err: unknown) => isKind('not_found')(err) && /data\/nope/.test(String(err)))
      await assert.rejects(client.list('data/kmem'), isKind('not_a_branch'))
    })

    test('open, read at a kernel-half address, write, close', async () => {
      const opened = await client.open('data/kmem')
      assert.equal(opened.meta.content, 'mem')
      assert.equal(typeof opened.sizeBytes, 'bigint')
      const [first, second] = await client.read(opened.handle, [{ addr: KERNEL_BASE + 16n, length: 4 }, { addr: KERNEL_BASE, length: 0 }])
      assert.ok(first?.ok && second?.ok)
      assert.deepEqual([...first.data], [112, 119, 126, 133])
      assert.equal(second.data.length, 0)
      const writes = await client.write(opened.handle, [{ addr: KERNEL_BASE + 8n, data: new Uint8Array([0xde, 0xad]) }])
      assert.deepEqual(writes, [{ ok: true }])
      assert.deepEqual([...t.kmem.bytes.subarray(8, 10)], [0xde, 0xad])
      await client.close(opened.handle)
      await assert.rejects(client.read(opened.handle, [{ addr: KERNEL_BASE, length: 1 }]), isKind('not_found'))
    })

    test('per-piece errors leave the neighbours intact', async () => {
      const { handle } = await client.open('data/kmem')
      const results = await client.read(handle, [
        { addr: KERNEL_BASE, length: 2 }, { addr: 0x1000n, length: 8 }, { addr: 0xffff_ffff_ffff_fff0n, length: 16 }, { addr: KERNEL_BASE + 2n, length: 2 },
      ])
      assert.deepEqual(results.map((r) => (r.ok ? [...r.data] : r.error.kind)), [[0, 7], 'unmapped', 'unmapped', [14, 21]])
      const failed = results[1]
      assert.ok(failed !== undefined && !failed.ok)
      assert.ok(failed.error instanceof MemweaveError)
      assert.equal(failed.error.origin, 'mem')
      assert.match(failed.error.message, /0x1000 is not mapped/)
      const writes = await client.write(handle, [{ addr: 0n, data: new Uint8Array(1) }, { addr: KERNEL_BASE, data: new Uint8Array([9]) }])
      assert.deepEqual(writes.map((w) => (w.ok ? 'ok' : w.error.kind)), ['unmapped', 'ok'])
      await client.close(handle)
    })

    test('a 1 MiB piece and many small pieces come back whole and in order', async () => {
      const { handle } = await client.open('data/kmem')
      const [big] = await client.read(handle, [{ addr: KERNEL_BASE, length: 1 << 20 }])
      assert.ok(big?.ok)
      assert.ok(Buffer.from(big.data).equals(Buffer.from(t.kmem.bytes)))
      const pieces = Array.from({ length: 3000 }, (_, i) => ({ addr: KERNEL_BASE + BigInt(i * 97), length: 3 + (i % 5) }))
      const results = await client.read(handle, pieces)
      results.forEach((r, i) => {
        const start = i * 97
        assert.ok(r.ok)
        assert.deepEqual([...r.data], [...t.kmem.bytes.subarray(start, start + 3 + (i % 5))])
      })
      await client.close(handle)
    })

    test('text leaves, rpc and control leaves', async () => {
      const opened = await client.open('data/text')
      assert.equal(opened.sizeBytes, 20n)
      const [piece] = await client.read(opened.handle, [{ addr: 0n, length: 100 }])
      assert.ok(piece?.ok)
      assert.equal(text(piece.data), 'hello from the tree\n')
      await client.close(opened.handle)
      const echo = await client.open('data/echo')
      const reply = await client.rpc(echo.handle, { ask: [1, 'two', 3n, new Uint8Array([4])], nil: null })
      assert.deepEqual(reply, { echoed: { ask: [1, 'two', 3n, Buffer.from([4])], nil: null }, big: KERNEL_BASE })
      await assert.rejects(client.write(echo.handle, [{ addr: 0n, data: new Uint8Array(1) }]), isKind('permission'))
      await client.close(echo.handle)
      const ctl = await client.open('ctl')
      assert.equal(await client.rpc(ctl.handle, 'hello'), 'ran hello')
      await assert.rejects(client.rpc(ctl.handle, 42), (err: unknown) => isKind('invalid_argument')(err) && /one command line/.test(String(err)))
      await client.close(ctl.handle)
    })

    test('watch pushes change events until unwatched', async () => {
      const seen: string[] = []
      const unwatch = await client.watch('data', (path) => seen.push(path))
      const ctl = await client.open('ctl')
      await client.write(ctl.handle, [{ addr: 0n, data: Buffer.from('alpha\n') }])
      await waitFor('the first change event', () => seen.length === 1)
      assert.deepEqual(seen, ['data/alpha'])
      t.tree.events.notify('elsewhere/thing')
      t.tree.events.notify('data/beta/gamma')
      await waitFor('the second change event', () => seen.length === 2)
      assert.deepEqual(seen, ['data/alpha', 'data/beta/gamma'])
      await unwatch()
      t.tree.events.notify('data/delta')
      await client.ping() // a round trip later, an event would have arrived
      assert.deepEqual(seen, ['data/alpha', 'data/beta/gamma'])
      await client.close(ctl.handle)
    })

    test('pipelined requests all come back to their callers', async () => {
      const { handle } = await client.open('data/kmem')
      const reads = Array.from({ length: 600 }, (_, i) => client.read(handle, [{ addr: KERNEL_BASE + BigInt(i), length: 8 }]))
      const results = await Promise.all(reads)
      results.forEach(([r], i) => {
        assert.ok(r?.ok)
        assert.deepEqual([...r.data], [...t.kmem.bytes.subarray(i, i + 8)])
      })
      await client.close(handle)
    })
  })
}

test('handles are shared and counted across connections, and dropped with them', async () => {
  const t = makeTree()
  const srv = await serve(t.tree)
  const a = await connectClient(srv.unixUrl)
  const b = await connectClient(srv.tcpUrl)
  try {
    const ha = await a.open('data/kmem')
    const hb = await b.open('data/kmem')
    const ha2 = await a.open('data/kmem')
    assert.equal(ha.handle, hb.handle)
    assert.equal(ha.handle, ha2.handle)
    assert.deepEqual(t.tree.handles.summaries()[0]?.refs, { [a.serverInfo.connection]: 2, [b.serverInfo.connection]: 1 })
    // One connection's handle number is not a capability on another connection that never opened it.
    const c = await connectClient(srv.unixUrl)
    await assert.rejects(c.read(ha.handle, [{ addr: KERNEL_BASE, length: 1 }]), isKind('not_found'))
    await c.disconnect()
    await a.disconnect()
    await waitFor('a\'s references to go', () => Object.keys(t.tree.handles.summaries()[0]?.refs ?? {}).length === 1)
    const [piece] = await b.read(hb.handle, [{ addr: KERNEL_BASE + 1n, length: 1 }])
    assert.ok(piece?.ok)
    assert.equal(piece.data[0], 7)
    await b.close(hb.handle)
    assert.equal(t.tree.handles.size, 0)
  } finally {
    await a.disconnect()
    await b.disconnect()
    await srv.stop()
  }
})

test('big batches are split to the server\'s limits; a piece too big for any request fails alone', async () => {
  const t = makeTree({ maxPieces: 10, maxBatchBytes: 4096 })
  const srv = await serve(t.tree)
  const client = await connectClient(srv.unixUrl)
  try {
    const { handle } = await client.open('data/kmem')
    const pieces = [...Array.from({ length: 25 }, (_, i) => ({ addr: KERNEL_BASE + BigInt(i * 1000), length: 1000 })), { addr: KERNEL_BASE, length: 5000 }]
    const results = await client.read(handle, pieces)
    assert.equal(t.kmem.reads, 7) // 4 pieces of 1000 bytes fit the 4096-byte limit: 7 requests for 25
    results.slice(0, 25).forEach((r, i) => {
      assert.ok(r.ok)
      assert.deepEqual([...r.data], [...t.kmem.bytes.subarray(i * 1000, i * 1000 + 1000)])
    })
    assert.ok(results[25] !== undefined && !results[25].ok && results[25].error.kind === 'too_large')
    const writes = await client.write(handle, Array.from({ length: 12 }, (_, i) => ({ addr: KERNEL_BASE + BigInt(i), data: new Uint8Array([i]) })))
    assert.equal(writes.filter((w) => w.ok).length, 12)
    assert.deepEqual([...t.kmem.bytes.subarray(0, 12)], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])
  } finally {
    await client.disconnect()
    await srv.stop()
  }
})

test('a dropped connection fails everything pending with disconnected and tells onClose', async () => {
  const t = makeTree()
  const srv = await serve(t.tree)
  const client = await connectClient(srv.unixUrl)
  const { handle } = await client.open('data/slow')
  const held = t.slow.gate = new Promise<void>(() => {})
  assert.ok(held)
  const reasons: string[] = []
  client.onClose((reason) => reasons.push(reason.kind))
  const pending = assert.rejects(client.read(handle, [{ addr: 0n, length: 8 }]), isKind('disconnected'))
  await waitFor('the read to reach the leaf', () => t.slow.reads === 1)
  await srv.stop()
  await pending
  assert.deepEqual(reasons, ['disconnected'])
  assert.ok(client.closed)
  await assert.rejects(client.list(''), isKind('disconnected'))
})

test('per-request timeouts fail the caller, and a late open gives its handle back', async () => {
  const t = makeTree()
  const srv = await serve(t.tree)
  const client = await connectClient(srv.unixUrl, { timeoutMs: 200 })
  try {
    const { handle } = await client.open('data/slow')
    let release = (): void => {}
    t.slow.gate = new Promise<void>((resolve) => { release = resolve })
    await assert.rejects(client.read(handle, [{ addr: 0n, length: 8 }]), (err: unknown) => isKind('timeout')(err) && /read .* timed out after 200 ms/.test(String(err)))
    release()
    t.slow.gate = undefined
    const [r] = await client.read(handle, [{ addr: 0n, length: 1 }])
    assert.ok(r?.ok)
    // An open that times out still completes on the server; its late reply makes the client close the handle.
    let releaseOpen = (): void => {}
    t.gated.openGate = new Promise<void>((resolve) => { releaseOpen = resolve })
    await assert.rejects(client.open('data/gated'), isKind('timeout'))
    releaseOpen()
    await waitFor('the late handle to be given back', () => t.gated.closes === 1)
    assert.equal(t.gated.opens, 1)
    assert.equal(t.tree.handles.size, 1) // only data/slow, still open
  } finally {
    await client.disconnect()
    await srv.stop()
  }
})

test('a handle whose object went away fails as stale over the wire, and a new open says why', async () => {
  const t = makeTree()
  const srv = await serve(t.tree, { tcp: false })
  const client = await connectClient(srv.unixUrl)
  try {
    const { handle } = await client.open('data/kmem')
    t.lifetime.end('was removed')
    await assert.rejects(client.read(handle, [{ addr: KERNEL_BASE, length: 1 }]),
      (err: unknown) => isKind('stale')(err) && err instanceof MemweaveError && err.origin === 'tree' && /stale handle .* was removed/.test(err.message))
    await assert.rejects(client.open('data/kmem'), isKind('stale'))
  } finally {
    await client.disconnect()
    await srv.stop()
  }
})

test('no daemon on the socket: the error says how to start one', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'memweave-none-'))
  try {
    await assert.rejects(connectClient(`unix:${join(dir, 'absent.sock')}`),
      (err: unknown) => isKind('disconnected')(err) && /memweave serve/.test(String(err)) && /--embedded/.test(String(err)))
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('a MemweaveNode tree served over the socket matches the in-process client', async () => {
  const node = new MemweaveNode({ allowWrite: false, log: testLog(), connectorKinds: BUILTIN_CONNECTOR_KINDS, osKinds: BUILTIN_OS_KINDS, mappings: BUILTIN_MAPPINGS })
  const srv = await serve(node.tree, { tcp: false })
  const remote = await connectClient(srv.unixUrl)
  const local = new LocalTreeClient(node.tree)
  try {
    assert.deepEqual(await remote.list(''), await local.list(''))
    assert.deepEqual(await remote.list('sys'), await local.list('sys'))
    const info = await remote.open('sys/info')
    const [piece] = await remote.read(info.handle, [{ addr: 0n, length: 1 << 16 }])
    assert.ok(piece?.ok)
    assert.equal(JSON.parse(text(piece.data)).pid, process.pid)
    const usage = await remote.open('connector/new')
    await assert.rejects(remote.rpc(usage.handle, 'x nosuchkind:arg'), (err: unknown) => err instanceof MemweaveError && /nosuchkind/.test(err.message))
  } finally {
    await remote.disconnect()
    await local.disconnect()
    await srv.stop()
    await node.close()
  }
})
