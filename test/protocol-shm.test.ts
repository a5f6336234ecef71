/**
 * The shared data ring end to end, over a real unix socket and real tmpfs
 * files: ring data equals inline data and the source for random pipelined
 * batches around the thresholds; a full ring falls back to inline data;
 * replies completing out of order and late replies of timed-out reads keep
 * the ring in step; pieces bigger than a request stream through it in
 * pipelined chunks; nothing is left behind on disconnect or restart (all of
 * it with the ring mapped on both ends, and copied with pwritev/preadv); and
 * either side with the feature off (or a 1.0 peer) still works.
 */
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import fc from 'fast-check'
import { MemweaveError } from '../src/errors/index.js'
import type { PieceResult, ReadPiece } from '../src/mem/index.js'
import { mmapAddonAbsence, reloadMmapAddon } from '../src/addons/index.js'
import { connectClient, DEFAULT_DATA_RING_POLICY, startServer } from '../src/net/index.js'
import type { ProtocolClient } from '../src/net/index.js'
import { READ_SCRATCH } from '../src/net/scratch-pool.js'
import { gate, RawPeer, serve, testLog } from './protocol-kit.js'
import { waitFor } from './wait-for.js'
import type { TestServer } from './protocol-kit.js'
import { MIB, ringFds, shmDir, SMALL_RING_BYTES, twoLeafTree } from './protocol-shm-kit.js'
import type { TwoLeafTree } from './protocol-shm-kit.js'

const LEAF_BYTES = 4 * MIB

function assertPieces(t: TwoLeafTree, leaf: 'a' | 'b', pieces: readonly ReadPiece[], results: readonly PieceResult[], what: string): void {
  assert.equal(results.length, pieces.length, what)
  pieces.forEach((piece, i) => {
    const result = results[i]
    const offset = Number(piece.addr)
    if (offset + piece.length > LEAF_BYTES) {
      assert.ok(result !== undefined && !result.ok && result.error.kind === 'unmapped', `${what}: piece ${i} should be unmapped`)
      return
    }
    assert.ok(result?.ok === true, `${what}: piece ${i} failed`)
    assert.ok(Buffer.from(result.data).equals(t.expected(leaf, offset, piece.length)), `${what}: piece ${i} (${piece.length} bytes at ${offset}) differs`)
  })
}

// Both ends either map the ring (the mmap addon: the daemon reads the source straight into it) or copy with pwritev/preadv.
for (const mode of ['mapped', 'copied'] as const) describe(`with a shared ring, ${mode}`, { skip: mode === 'mapped' ? mmapAddonAbsence() ?? false : false }, () => {
  let t: TwoLeafTree
  let srv: TestServer
  let dir: { path: string; remove: () => Promise<void> }
  const native = process.env['MEMWEAVE_NATIVE']
  before(async () => {
    if (mode === 'copied') process.env['MEMWEAVE_NATIVE'] = '0'
    reloadMmapAddon()
    t = twoLeafTree(LEAF_BYTES)
    srv = await serve(t.tree, { tcp: false })
    dir = await shmDir()
  })
  after(async () => {
    await srv.stop()
    await dir.remove()
    if (native === undefined) delete process.env['MEMWEAVE_NATIVE']
    else process.env['MEMWEAVE_NATIVE'] = native
    reloadMmapAddon()
  })

  const ringClient = async (sizeBytes: number, extra: { timeoutMs?: number } = {}): Promise<ProtocolClient> => {
    const client = await connectClient(srv.unixUrl, { log: testLog(), dataRing: { dir: dir.path, sizeBytes }, connectTimeoutMs: 10_000, ...extra })
    assert.equal(client.dataRing.mapped, mode === 'mapped', `the client's ring is ${mode}`)
    return client
  }

  test('ring data equals inline data and the source, for random pipelined batches around the thresholds', async () => {
    const viaRing = await ringClient(2 * MIB)
    const inline = await connectClient(srv.unixUrl, { log: testLog(), dataRing: false })
    try {
      assert.equal(viaRing.dataRing.active, true)
      assert.equal(inline.dataRing.active, false)
      const handles = {
        ring: { a: (await viaRing.open('data/a')).handle, b: (await viaRing.open('data/b')).handle },
        inline: { a: (await inline.open('data/a')).handle, b: (await inline.open('data/b')).handle },
      }
      const { minPieceBytes, minReplyBytes } = DEFAULT_DATA_RING_POLICY
      const length = fc.oneof(
        fc.constantFrom(0, 1, minPieceBytes - 1, minPieceBytes, minPieceBytes + 1, 4096, minReplyBytes - 1, minReplyBytes, minReplyBytes + 1, 700_000, 1_500_000, 2 * MIB),
        fc.integer({ min: 0, max: 2 * MIB }),
      )
      // Some pieces run past the leaf: per-piece errors between ring pieces.
      const piece = fc.record({ addr: fc.integer({ min: 0, max: LEAF_BYTES }).map(BigInt), length })
      const batch = fc.record({ leaf: fc.constantFrom('a' as const, 'b' as const), pieces: fc.array(piece, { minLength: 1, maxLength: 6 }) })
      await fc.assert(fc.asyncProperty(fc.array(batch, { minLength: 1, maxLength: 6 }), async (batches) => {
        // Every batch in flight at once on both connections: replies come back in any order.
        await Promise.all(batches.map(async ({ leaf, pieces }, n) => {
          const [ring, socket] = await Promise.all([viaRing.read(handles.ring[leaf], pieces), inline.read(handles.inline[leaf], pieces)])
          assertPieces(t, leaf, pieces, ring, `batch ${n} through the ring`)
          assertPieces(t, leaf, pieces, socket, `batch ${n} inline`)
        }))
      }), { numRuns: 60 })
      assert.ok(viaRing.dataRing.pieces > 0, 'some pieces went through the ring')
      assert.equal(inline.dataRing.pieces, 0)
    } finally {
      await viaRing.disconnect()
      await inline.disconnect()
    }
  })

  test('readInto puts ring and inline data into the caller\'s buffer, bulk batches with per-piece failures', async () => {
    const viaRing = await ringClient(2 * MIB)
    const inline = await connectClient(srv.unixUrl, { log: testLog(), dataRing: false })
    try {
      const clients = [viaRing, inline]
      const handles = await Promise.all(clients.map(async (c) => (await c.open('data/b')).handle))
      const piece = fc.record({ addr: fc.integer({ min: 0, max: LEAF_BYTES }).map(BigInt), length: fc.oneof(fc.constantFrom(0, 4096, 70_000, MIB), fc.integer({ min: 0, max: MIB })) })
      await fc.assert(fc.asyncProperty(fc.array(piece, { minLength: 1, maxLength: 6 }), fc.nat({ max: 64 }), async (pieces, gap) => {
        let at = gap
        const placed = pieces.map((p) => { const q = { ...p, at }; at += p.length + gap; return q })
        await Promise.all(clients.map(async (client, c) => {
          const target = Buffer.alloc(at + 7, 0xa5)
          const results = await client.readInto(handles[c]!, placed, target)
          const written = new Uint8Array(target.length)
          placed.forEach((p, i) => {
            const r = results[i]
            const offset = Number(p.addr)
            written.fill(1, p.at, p.at + p.length)
            if (offset + p.length > LEAF_BYTES) { assert.ok(r !== undefined && !r.ok && r.error.kind === 'unmapped', `piece ${i} should be unmapped`); return }
            assert.ok(r?.ok === true && r.length === p.length, `piece ${i} failed`)
            assert.ok(target.subarray(p.at, p.at + p.length).equals(t.expected('b', offset, p.length)), `piece ${i} differs (client ${c})`)
          })
          written.forEach((w, i) => { if (w === 0) assert.equal(target[i], 0xa5, `byte ${i} outside the pieces was changed`) })
        }))
      }), { numRuns: 25 })
      assert.ok(viaRing.dataRing.pieces > 0, 'some pieces went through the ring')
      await assert.rejects(viaRing.readInto(handles[0]!, [{ addr: 0n, length: 16, at: 8 }], Buffer.alloc(16)), (err: unknown) => err instanceof MemweaveError && err.kind === 'invalid_argument')
    } finally {
      await viaRing.disconnect()
      await inline.disconnect()
    }
  })

  test('a full ring sends the data inline and never waits; consumed space is used again', async () => {
    const client = await ringClient(SMALL_RING_BYTES) // 1 MiB - 4 KiB of ring
    try {
      const { handle } = await client.open('data/a')
      const half = 512 * 1024
      const held = gate()
      t.a.gate = held.promise
      const readsBefore = t.a.reads
      const reads = [0, 1, 2].map((i) => client.read(handle, [{ addr: BigInt(i * half), length: half }]))
      await waitFor('three reads held in the source', () => t.a.reads === readsBefore + 3)
      t.a.gate = undefined
      held.open()
      const results = await Promise.all(reads)
      results.forEach((r, i) => assertPieces(t, 'a', [{ addr: BigInt(i * half), length: half }], r, `held read ${i}`))
      assert.equal(client.dataRing.pieces, 1, 'only the first reply fit; the other two came inline')
      const next = [{ addr: 100n, length: half }]
      assertPieces(t, 'a', next, await client.read(handle, next), 'read after the ring drained')
      assert.equal(client.dataRing.pieces, 2, 'the space the client consumed was used again')
      // One reply bigger than the ring: the piece that fits goes through it, the other inline.
      const big = [{ addr: 0n, length: 700_000 }, { addr: 700_000n, length: 700_000 }]
      assertPieces(t, 'a', big, await client.read(handle, big), 'reply bigger than the ring')
      assert.equal(client.dataRing.pieces, 3)
    } finally {
      t.a.gate = undefined
      await client.disconnect()
    }
  })

  test('replies that complete out of order keep the ring in step, lap after lap', async () => {
    const client = await ringClient(SMALL_RING_BYTES)
    try {
      const a = (await client.open('data/a')).handle
      const b = (await client.open('data/b')).handle
      const size = 300_000
      for (let lap = 0; lap < 8; lap++) {
        const held = gate()
        t.a.gate = held.promise
        const first = [{ addr: BigInt(lap * 4096), length: size }]
        const second = [{ addr: BigInt(lap * 8192), length: size }]
        const slow = client.read(a, first)
        const fast = await client.read(b, second) // asked later, answered first
        assertPieces(t, 'b', second, fast, `lap ${lap}, fast read`)
        t.a.gate = undefined
        held.open()
        assertPieces(t, 'a', first, await slow, `lap ${lap}, slow read`)
      }
      assert.equal(client.dataRing.pieces, 16, 'every reply went through the ring (2.4 MB through 1 MiB)')
    } finally {
      t.a.gate = undefined
      await client.disconnect()
    }
  })

  test('a client that disconnects mid-transfer leaves no scratch buffer, ring descriptor or handle behind', async () => {
    const handlesBefore = t.tree.handles.size
    const scratchBefore = READ_SCRATCH.stats.inUse
    const client = await ringClient(8 * MIB) // room for all four reads (a mapped ring takes their regions before reading)
    const held = gate()
    try {
      const { handle } = await client.open('data/a')
      t.a.gate = held.promise
      const readsBefore = t.a.reads
      const reads = [0, 1, 2, 3].map((i) => client.readInto(handle, [{ addr: BigInt(i * MIB), length: MIB, at: 0 }], Buffer.alloc(MIB)))
      for (const r of reads) r.catch(() => undefined)
      await waitFor('four big reads held inside the source', () => t.a.reads === readsBefore + 4)
      // Copied: each held read has its scratch buffer; mapped: each reads into its ring region, no scratch.
      assert.equal(READ_SCRATCH.stats.inUse, scratchBefore + (mode === 'copied' ? 4 : 0), 'scratch buffers of the held reads')
      client.terminate() // gone mid-transfer, without a close handshake
      for (const r of reads) await assert.rejects(r, (err: unknown) => err instanceof MemweaveError && err.kind === 'disconnected')
      await waitFor('both ends of the ring closed', () => ringFds(dir.path) === 0)
    } finally {
      t.a.gate = undefined
      held.open()
    }
    await waitFor('the scratch buffers back in the pool once the source answered', () => READ_SCRATCH.stats.inUse === scratchBefore)
    await waitFor('the handle released', () => t.tree.handles.size === handlesBefore)
    // The daemon goes on serving rings: a new client reads through its own.
    const again = await ringClient(2 * MIB)
    try {
      const { handle } = await again.open('data/a')
      const target = Buffer.alloc(MIB)
      const [r] = await again.readInto(handle, [{ addr: 0n, length: MIB, at: 0 }], target)
      assert.ok(r?.ok === true && target.equals(t.expected('a', 0, MIB)))
      assert.equal(again.dataRing.pieces, 1)
    } finally {
      await again.disconnect()
    }
  })

  test('a piece bigger than a ring request streams through the ring in pipelined chunks, failing per piece; a cut mid-way leaves nothing behind', async () => {
    const big = twoLeafTree(12 * MIB)
    const bigSrv = await serve(big.tree, { tcp: false })
    const bigClient = (): Promise<ProtocolClient> => connectClient(bigSrv.unixUrl, { log: testLog(), dataRing: { dir: dir.path, sizeBytes: 32 * MIB }, connectTimeoutMs: 10_000 })
    try {
      const client = await bigClient()
      try {
        const { handle } = await client.open('data/a')
        const pieces = [
          { addr: 1n, length: 9 * MIB, at: 3 }, // chunks of 4, 4 and 1 MiB
          { addr: BigInt(10 * MIB), length: 5 * MIB, at: 9 * MIB + 3 }, // runs past the leaf: fails as a whole
          { addr: BigInt(2 * MIB), length: 5 * MIB + 17, at: 14 * MIB + 3 }, // chunks of 4 MiB and 1 MiB + 17
        ]
        const target = Buffer.alloc(19 * MIB + 64, 0xa5)
        const results = await client.readInto(handle, pieces, target)
        assert.ok(results[0]?.ok === true && results[0].length === 9 * MIB, 'the 9 MiB piece')
        assert.ok(target.subarray(3, 3 + 9 * MIB).equals(big.expected('a', 1, 9 * MIB)), 'the 9 MiB piece\'s bytes')
        assert.ok(results[1] !== undefined && !results[1].ok && results[1].error.kind === 'unmapped', 'the piece past the leaf fails')
        assert.ok(results[2]?.ok === true && results[2].length === 5 * MIB + 17, 'the last piece')
        assert.ok(target.subarray(14 * MIB + 3, 19 * MIB + 20).equals(big.expected('a', 2 * MIB, 5 * MIB + 17)), 'the last piece\'s bytes')
        assert.ok(target.subarray(0, 3).every((b) => b === 0xa5) && target.subarray(19 * MIB + 20).every((b) => b === 0xa5), 'nothing outside the pieces is written')
        assert.equal(client.dataRing.pieces, 5, 'each successful chunk came through the ring on its own')
        // read() into fresh memory takes the same way.
        const [fresh] = await client.read(handle, [{ addr: 0n, length: 12 * MIB }])
        assert.ok(fresh?.ok === true && Buffer.from(fresh.data).equals(big.expected('a', 0, 12 * MIB)), 'a whole-leaf read()')
        assert.equal(client.dataRing.pieces, 8)
      } finally {
        await client.disconnect()
      }
      // Chunks that time out: the call fails once every chunk in flight has settled, and their late replies write nothing.
      const slow = await connectClient(bigSrv.unixUrl, { log: testLog(), dataRing: { dir: dir.path, sizeBytes: 32 * MIB }, connectTimeoutMs: 10_000, timeoutMs: 500 })
      const stalled = gate()
      try {
        const { handle } = await slow.open('data/a')
        big.a.gate = stalled.promise
        const target = Buffer.alloc(10 * MIB, 0x5a)
        await assert.rejects(slow.readInto(handle, [{ addr: 0n, length: 10 * MIB, at: 0 }], target), (err: unknown) => err instanceof MemweaveError && err.kind === 'timeout')
        big.a.gate = undefined
        stalled.open()
        await slow.ping() // the late replies were sent before the ping's, so they have been handled
        assert.ok(target.every((b) => b === 0x5a), 'no late chunk wrote into the caller\'s buffer')
        const [again] = await slow.readInto(handle, [{ addr: 0n, length: 10 * MIB, at: 0 }], target)
        assert.ok(again?.ok === true && target.equals(big.expected('a', 0, 10 * MIB)), 'the ring is in step after the late replies')
      } finally {
        big.a.gate = undefined
        stalled.open()
        await slow.disconnect()
      }
      const cut = await bigClient()
      const held = gate()
      const scratchBefore = READ_SCRATCH.stats.inUse
      try {
        const { handle } = await cut.open('data/b')
        big.b.gate = held.promise
        const readsBefore = big.b.reads
        const read = cut.readInto(handle, [{ addr: 0n, length: 12 * MIB, at: 0 }], Buffer.alloc(12 * MIB))
        read.catch(() => undefined)
        await waitFor('the three chunks held inside the source at once', () => big.b.reads === readsBefore + 3)
        cut.terminate()
        await assert.rejects(read, (err: unknown) => err instanceof MemweaveError && err.kind === 'disconnected')
        await waitFor('both ends of the ring closed', () => ringFds(dir.path) === 0)
      } finally {
        big.b.gate = undefined
        held.open()
      }
      await waitFor('the scratch buffers back in the pool', () => READ_SCRATCH.stats.inUse === scratchBefore)
      await waitFor('the cut client gone from the daemon', () => bigSrv.server.connections() === 0)
      const again = await bigClient()
      try {
        const { handle } = await again.open('data/b')
        const target = Buffer.alloc(12 * MIB)
        const [r] = await again.readInto(handle, [{ addr: 0n, length: 12 * MIB, at: 0 }], target)
        assert.ok(r?.ok === true && target.equals(big.expected('b', 0, 12 * MIB)), 'a new client reads the whole leaf')
      } finally {
        await again.disconnect()
      }
    } finally {
      await bigSrv.stop()
    }
  })

  test('the late reply of a timed-out read still frees its ring space', async () => {
    const client = await ringClient(SMALL_RING_BYTES, { timeoutMs: 1000 })
    try {
      const { handle } = await client.open('data/a')
      const held = gate()
      t.a.gate = held.promise
      const pieces = [{ addr: 0n, length: 800_000 }]
      await assert.rejects(client.read(handle, pieces), (err: unknown) => err instanceof MemweaveError && err.kind === 'timeout')
      t.a.gate = undefined
      held.open()
      await client.ping() // the late reply was sent before the ping's, so it has been handled
      assertPieces(t, 'a', pieces, await client.read(handle, pieces), 'read after the late reply')
      assert.equal(client.dataRing.pieces, 1, 'the second 800 kB fit only because the late one was counted consumed')
    } finally {
      t.a.gate = undefined
      await client.disconnect()
    }
  })

  test('the ring file is gone right after hello, and both descriptors close on disconnect or a cut', async () => {
    const client = await ringClient(SMALL_RING_BYTES)
    assert.equal(client.dataRing.active, true)
    assert.deepEqual(readdirSync(dir.path), [], 'unlinked as soon as the daemon answered')
    assert.equal(ringFds(dir.path), 2, 'the client and the daemon (same process here) hold it open')
    const { handle } = await client.open('data/b')
    assertPieces(t, 'b', [{ addr: 0n, length: MIB }], await client.read(handle, [{ addr: 0n, length: MIB }]), 'read before disconnect')
    await client.disconnect()
    await waitFor('both ends to close the ring', () => ringFds(dir.path) === 0)

    const cut = await ringClient(SMALL_RING_BYTES)
    assert.equal(ringFds(dir.path), 2)
    cut.terminate()
    await waitFor('the daemon to drop a client that vanished', () => ringFds(dir.path) === 0 && srv.server.connections() === 0)
    assert.deepEqual(readdirSync(dir.path), [])
  })
})

test('a daemon restart: the old ring is dropped, a new connection gets a new one', async () => {
  const t = twoLeafTree(LEAF_BYTES)
  const sockDir = await mkdtemp(join(tmpdir(), 'memweave-shm-'))
  const dir = await shmDir()
  const socket = `unix:${join(sockDir, 'mw.sock')}`
  const start = (): ReturnType<typeof startServer> => startServer({ tree: t.tree, listen: [socket], log: testLog() })
  let server = await start()
  try {
    const first = await connectClient(socket, { log: testLog(), dataRing: { dir: dir.path, sizeBytes: SMALL_RING_BYTES } })
    const pieces = [{ addr: 4096n, length: 200_000 }]
    const handle = (await first.open('data/a')).handle
    assertPieces(t, 'a', pieces, await first.read(handle, pieces), 'before the restart')
    await server.close()
    await waitFor('the client to see the daemon go', () => first.closed)
    await assert.rejects(first.read(handle, pieces), (err: unknown) => err instanceof MemweaveError && err.kind === 'disconnected')
    assert.equal(ringFds(dir.path), 0)
    server = await start()
    const second = await connectClient(socket, { log: testLog(), dataRing: { dir: dir.path, sizeBytes: SMALL_RING_BYTES } })
    assert.equal(second.dataRing.active, true)
    assertPieces(t, 'a', pieces, await second.read((await second.open('data/a')).handle, pieces), 'after the restart')
    assert.equal(second.dataRing.pieces, 1)
    await second.disconnect()
    assert.deepEqual(readdirSync(dir.path), [])
  } finally {
    await server.close()
    await rm(sockDir, { recursive: true, force: true })
    await dir.remove()
  }
})

describe('the feature off on either side', () => {
  let t: TwoLeafTree
  let dir: { path: string; remove: () => Promise<void> }
  before(async () => {
    t = twoLeafTree(LEAF_BYTES)
    dir = await shmDir()
  })
  after(() => dir.remove())
  const pieces = [{ addr: 0n, length: MIB }, { addr: 5n, length: 100 }, { addr: BigInt(LEAF_BYTES), length: 70_000 }]

  test('a daemon with rings off answers like a 1.0 daemon; the client removes its file and reads inline', async () => {
    const sockDir = await mkdtemp(join(tmpdir(), 'memweave-shm-'))
    const socket = `unix:${join(sockDir, 'mw.sock')}`
    const server = await startServer({ tree: t.tree, listen: [socket], log: testLog(), dataRing: false })
    try {
      const client = await connectClient(socket, { log: testLog(), dataRing: { dir: dir.path } })
      assert.equal(client.serverInfo.dataRing, undefined)
      assert.equal(client.dataRing.active, false)
      assert.deepEqual(readdirSync(dir.path), [])
      assert.equal(ringFds(dir.path), 0)
      assertPieces(t, 'a', pieces, await client.read((await client.open('data/a')).handle, pieces), 'inline from a ring-less daemon')
      assert.equal(client.dataRing.pieces, 0)
      await client.disconnect()
    } finally {
      await server.close()
      await rm(sockDir, { recursive: true, force: true })
    }
  })

  test('a client with rings off (or a 1.0 client) offers nothing and gets plain data', async () => {
    const srv = await serve(t.tree, { tcp: false })
    try {
      const client = await connectClient(srv.unixUrl, { log: testLog(), dataRing: false })
      assert.equal(client.serverInfo.dataRing, undefined)
      assertPieces(t, 'a', pieces, await client.read((await client.open('data/a')).handle, pieces), 'inline for a ring-less client')
      await client.disconnect()
      // A 1.0 client: no dataPath in hello, no `consumed` in reads, and only {data} or {error} back.
      const old = await RawPeer.connect(srv.unixUrl)
      old.send({ id: 0, op: 'hello', version: { major: 1, minor: 0 } })
      const hello = await old.reply(0)
      assert.equal(Object.hasOwn(hello.result as object, 'dataRing'), false)
      old.send({ id: 1, op: 'open', path: 'data/b' })
      const { handle } = (await old.reply(1)).result as { handle: number }
      old.send({ id: 2, op: 'read', handle, pieces: [{ addr: 0n, length: MIB }] })
      const [piece] = (await old.reply(2)).result as Array<{ data: Buffer }>
      assert.ok(piece?.data.equals(t.expected('b', 0, MIB)))
      old.ws.close()
    } finally {
      await srv.stop()
    }
  })
})
