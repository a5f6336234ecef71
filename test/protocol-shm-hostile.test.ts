/**
 * The shared data ring against clients that are not what they claim: ring
 * files the daemon must refuse (symlinks, someone else's file, wrong key,
 * open to others, extra links, FIFOs, not on tmpfs, too small or too big,
 * odd names, over TCP), a real client of another user, and clients that lie
 * about what they consumed, never say, or shrink their file. Each refusal
 * leaves a working connection with inline data. And the other way round: a
 * daemon (a peer is one) that answers with a ring it was not offered, or
 * points outside it, costs the client its connection, never wrong data.
 */
import assert from 'node:assert/strict'
import { execFile, execFileSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { chmodSync, closeSync, fstatSync, ftruncateSync, linkSync, openSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { createServer } from 'node:http'
import { WebSocketServer } from 'ws'
import { MemweaveError } from '../src/errors/index.js'
import { connectClient, decodeMessage, encodeMessage, PROTOCOL_VERSION } from '../src/net/index.js'
import type { DataRingAnswer } from '../src/net/index.js'
import { RING_KEY_BYTES } from '../src/net/data-ring.js'
import { RawPeer, serve, testLog } from './protocol-kit.js'
import type { TestServer } from './protocol-kit.js'
import { MIB, ringBytes, ringPath, shmDir, SMALL_RING_BYTES, SMALL_RING_CAPACITY, twoLeafTree, writeRingFile } from './protocol-shm-kit.js'
import type { TwoLeafTree } from './protocol-shm-kit.js'

let t: TwoLeafTree
let srv: TestServer
let dir: { path: string; remove: () => Promise<void> }
let diskDir: string
before(async () => {
  t = twoLeafTree(4 * MIB)
  srv = await serve(t.tree)
  dir = await shmDir()
  diskDir = await mkdtemp(join(tmpdir(), 'memweave-shm-disk-'))
})
after(async () => {
  await srv.stop()
  await dir.remove()
  await rm(diskDir, { recursive: true, force: true })
})

/** Says hello offering a ring; returns the peer (open) and the daemon's answer. */
async function offer(url: string, dataPath: string, dataKey: Uint8Array, token?: string): Promise<{ peer: RawPeer; answer: DataRingAnswer | undefined }> {
  const peer = await RawPeer.connect(url)
  peer.send({ id: 0, op: 'hello', version: PROTOCOL_VERSION, dataPath, dataKey, ...(token === undefined ? {} : { token }) })
  const { result } = await peer.reply(0)
  const answer = typeof result === 'object' && result !== null && 'dataRing' in result ? result.dataRing as DataRingAnswer : undefined
  return { peer, answer }
}

/** Reads `length` bytes of data/a at 0 through a raw peer; returns the result piece as sent. */
async function rawRead(peer: RawPeer, id: number, handle: number, length: number, consumed?: number): Promise<Record<string, unknown>> {
  peer.send({ id, op: 'read', handle, pieces: [{ addr: 0n, length }], ...(consumed === undefined ? {} : { consumed }) })
  const reply = await peer.reply(id)
  const [piece] = reply.result as Array<Record<string, unknown>>
  assert.ok(piece !== undefined, `read ${id} got no piece`)
  return piece
}

async function rawOpen(peer: RawPeer, id: number): Promise<number> {
  peer.send({ id, op: 'open', path: 'data/a' })
  return ((await peer.reply(id)).result as { handle: number }).handle
}

describe('offered ring files the daemon refuses', () => {
  const cases: Array<{ what: string; make: () => { path: string; key: Uint8Array }; reason: RegExp }> = [
    {
      what: 'a symlink to a good ring file',
      make: () => {
        const real = ringPath(dir.path)
        const key = writeRingFile(real, SMALL_RING_BYTES)
        const link = ringPath(dir.path)
        symlinkSync(real, link)
        return { path: link, key }
      },
      reason: /symlink/,
    },
    {
      what: "someone else's ring file (its key unknown to the offerer)",
      make: () => {
        const path = ringPath(dir.path)
        writeRingFile(path, SMALL_RING_BYTES)
        return { path, key: randomBytes(RING_KEY_BYTES) }
      },
      reason: /key does not match/,
    },
    { what: 'a file open to others', make: () => { const path = ringPath(dir.path); return { path, key: writeRingFile(path, SMALL_RING_BYTES, 0o644) } }, reason: /open to others \(mode 644/ },
    {
      what: 'a file with a second link',
      make: () => {
        const path = ringPath(dir.path)
        const key = writeRingFile(path, SMALL_RING_BYTES)
        linkSync(path, ringPath(dir.path))
        return { path, key }
      },
      reason: /2 links/,
    },
    {
      what: 'a FIFO',
      make: () => { const path = ringPath(dir.path); execFileSync('mkfifo', ['-m', '600', path]); return { path, key: randomBytes(RING_KEY_BYTES) } },
      reason: /not a regular file/,
    },
    {
      what: 'a file that is not on tmpfs',
      make: () => { const path = ringPath(diskDir); return { path, key: writeRingFile(path, SMALL_RING_BYTES) } },
      reason: /not on tmpfs/,
    },
    { what: 'a ring too small', make: () => { const path = ringPath(dir.path); return { path, key: writeRingFile(path, 64 * 1024) } }, reason: /65536 bytes is outside the daemon's bounds/ },
    { what: 'a ring too big (sparse 2 GiB)', make: () => { const path = ringPath(dir.path); return { path, key: writeRingFile(path, 2 ** 31) } }, reason: /outside the daemon's bounds/ },
    {
      what: 'a file without the ring header',
      make: () => { const path = ringPath(dir.path); writeFileSync(path, Buffer.alloc(SMALL_RING_BYTES), { mode: 0o600 }); return { path, key: Buffer.alloc(RING_KEY_BYTES) } },
      reason: /no memweave ring header/,
    },
    { what: 'a file that is not there', make: () => ({ path: ringPath(dir.path), key: randomBytes(RING_KEY_BYTES) }), reason: /cannot open the ring file \(ENOENT\)/ },
    { what: 'a name without the memweave- prefix', make: () => { const path = join(dir.path, 'ring'); return { path, key: writeRingFile(path, SMALL_RING_BYTES) } }, reason: /memweave-\*/ },
    { what: 'a relative path', make: () => ({ path: 'memweave-x', key: randomBytes(RING_KEY_BYTES) }), reason: /absolute/ },
    {
      what: 'a path with ..',
      make: () => { const path = ringPath(dir.path); return { path: `${dir.path}/x/../${basename(path)}`, key: writeRingFile(path, SMALL_RING_BYTES) } },
      reason: /normalized/,
    },
    { what: 'a key of the wrong size', make: () => { const path = ringPath(dir.path); writeRingFile(path, SMALL_RING_BYTES); return { path, key: randomBytes(16) } }, reason: /32 bytes/ },
  ]
  for (const c of cases) {
    test(`${c.what}: refused with a reason, and the connection carries data inline`, async () => {
      const { path, key } = c.make()
      const { peer, answer } = await offer(srv.unixUrl, path, key)
      try {
        assert.ok(answer !== undefined && !answer.accepted, `${c.what} was accepted`)
        assert.match(answer.reason, c.reason)
        const handle = await rawOpen(peer, 1)
        const piece = await rawRead(peer, 2, handle, MIB, 0)
        assert.ok(piece.data instanceof Uint8Array && Buffer.from(piece.data).equals(t.expected('a', 0, MIB)), 'inline data after a refusal')
      } finally {
        peer.ws.close()
      }
    })
  }

  test('over TCP a ring is never taken, even a good one', async () => {
    const path = ringPath(dir.path)
    const { peer, answer } = await offer(srv.tcpUrl, path, writeRingFile(path, SMALL_RING_BYTES), srv.tcpToken)
    peer.ws.close()
    assert.ok(answer !== undefined && !answer.accepted)
    assert.match(answer.reason, /unix socket/)
  })

  test('a dataPath without a dataKey is a malformed hello', async () => {
    const peer = await RawPeer.connect(srv.unixUrl)
    peer.send({ id: 0, op: 'hello', version: PROTOCOL_VERSION, dataPath: ringPath(dir.path) })
    const reply = await peer.reply(0)
    assert.match(String((reply.error as { message: string }).message), /dataKey/)
    await peer.closed
  })

  test('a real client whose ring is refused (too small, or not on tmpfs) removes it and reads inline', async () => {
    for (const dataRing of [{ dir: dir.path, sizeBytes: 64 * 1024 }, { dir: diskDir }]) {
      const before = readdirSync(dataRing.dir).length
      const client = await connectClient(srv.unixUrl, { log: testLog(), dataRing })
      assert.equal(client.dataRing.active, false)
      assert.equal(readdirSync(dataRing.dir).length, before, 'the refused ring file was removed')
      const [piece] = await client.read((await client.open('data/a')).handle, [{ addr: 0n, length: MIB }])
      assert.ok(piece?.ok === true && Buffer.from(piece.data).equals(t.expected('a', 0, MIB)))
      await client.disconnect()
    }
  })
})

test('a client of another user cannot use the victim\'s ring, but its own works with a root daemon', async (ctx) => {
  if (process.getuid?.() !== 0) { ctx.skip('needs root to run a client as nobody'); return }
  const victim = ringPath(dir.path)
  writeRingFile(victim, SMALL_RING_BYTES)
  const socketPath = srv.unixUrl.slice('unix:'.length)
  // Let nobody reach the socket (the daemon makes it 0600 in a 0700 directory) and the victim's directory.
  await chmod(dirname(socketPath), 0o711)
  await chmod(socketPath, 0o666)
  chmodSync(dir.path, 0o711)
  const child = fileURLToPath(new URL('./protocol-shm-foreign-client.ts', import.meta.url))
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', child, srv.unixUrl, victim], {
    uid: 65534, gid: 65534, cwd: dirname(dirname(child)), env: { ...process.env, HOME: tmpdir() },
  })
  const report = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as { uid: number; pid: number; victimReadable: boolean; stolen?: DataRingAnswer; ownRing: { active: boolean; mapped: boolean; pieces: number }; sha256?: string }
  assert.equal(report.uid, 65534)
  assert.equal(report.victimReadable, false)
  assert.ok(report.stolen !== undefined && !report.stolen.accepted)
  assert.match(report.stolen.reason, /key does not match/)
  const { mapped: _clientMapped, ...ownRing } = report.ownRing // the client maps its own ring when the addon loads
  assert.deepEqual(ownRing, { active: true, pieces: 1, bytes: MIB })
  // The daemon (this process) never maps a ring another user owns: shrinking it would crash a root daemon (SIGBUS).
  assert.ok(!readFileSync('/proc/self/maps', 'utf8').includes(`/memweave-${report.pid}-`), 'the root daemon mapped the ring of another user')
  assert.equal(report.sha256, createHash('sha256').update(t.expected('a', 0, MIB)).digest('hex'))
})

describe('clients that lie about their ring', () => {
  test('a client that never reports consumption gets inline data once its ring is full, never a wait', async () => {
    const path = ringPath(dir.path)
    const { peer, answer } = await offer(srv.unixUrl, path, writeRingFile(path, SMALL_RING_BYTES))
    const fd = openSync(path, 'r')
    try {
      assert.deepEqual(answer, { accepted: true, sizeBytes: SMALL_RING_BYTES })
      const handle = await rawOpen(peer, 1)
      const half = 512 * 1024
      const first = await rawRead(peer, 2, handle, half)
      assert.equal(typeof first.ring, 'number')
      assert.equal(first.length, half)
      assert.ok(ringBytes(fd, SMALL_RING_CAPACITY, Number(first.ring), half).equals(t.expected('a', 0, half)))
      for (let id = 3; id < 6; id++) {
        const piece = await rawRead(peer, id, handle, half)
        assert.ok(piece.data instanceof Uint8Array && Buffer.from(piece.data).equals(t.expected('a', 0, half)), `read ${id} inline`)
      }
    } finally {
      closeSync(fd)
      peer.ws.close()
    }
  })

  test('made-up consumed marks and a shrunken file upset only the liar; an honest client is unaffected', async () => {
    const path = ringPath(dir.path)
    const { peer, answer } = await offer(srv.unixUrl, path, writeRingFile(path, SMALL_RING_BYTES))
    const honest = await connectClient(srv.unixUrl, { log: testLog(), dataRing: { dir: dir.path, sizeBytes: SMALL_RING_BYTES } })
    const fd = openSync(path, 'r+')
    try {
      assert.equal(answer?.accepted, true)
      const handle = await rawOpen(peer, 1)
      const honestHandle = (await honest.open('data/a')).handle
      const lies = [2 ** 32 - 1, 123_456_789, 1, 0, 7 * SMALL_RING_CAPACITY, 300_000]
      let id = 2
      for (const consumed of lies) {
        const piece = await rawRead(peer, id++, handle, 300_000, consumed)
        assert.ok(typeof piece.ring === 'number' || piece.data instanceof Uint8Array, 'a well-formed piece whatever the lie')
        const [mine] = await honest.read(honestHandle, [{ addr: 4096n, length: 300_000 }])
        assert.ok(mine?.ok === true && Buffer.from(mine.data).equals(t.expected('a', 4096, 300_000)), 'the honest client reads its own data')
      }
      // Shrinking the file: the daemon's writes stay within the size it accepted.
      ftruncateSync(fd, 0)
      const piece = await rawRead(peer, id++, handle, 200_000, 0)
      assert.ok(typeof piece.ring === 'number' || piece.data instanceof Uint8Array)
      assert.ok(fstatSync(fd).size <= SMALL_RING_BYTES)
      assert.ok(honest.dataRing.pieces >= lies.length)
    } finally {
      closeSync(fd)
      peer.ws.close()
      await honest.disconnect()
    }
  })
})

describe('a daemon that lies about the ring', () => {
  /** A fake daemon on a unix socket: answers hello with `dataRing`, and every read with `piece`. */
  async function fakeDaemon(dataRing: unknown, piece: unknown): Promise<{ url: string; close: () => Promise<void> }> {
    const sockDir = await mkdtemp(join(tmpdir(), 'memweave-fake-'))
    const http = createServer()
    const wss = new WebSocketServer({ server: http })
    wss.on('connection', (ws) => ws.on('message', (data: Buffer) => {
      const request = decodeMessage(data) as { id: number; op: string }
      const limits = { maxMessageBytes: 1 << 24, maxPieces: 16, maxBatchBytes: 1 << 24, maxInFlight: 4 }
      if (request.op === 'hello') ws.send(encodeMessage({ id: request.id, result: { version: PROTOCOL_VERSION, nodeId: 'fake', connection: 'c1', limits, node: {}, dataRing } }))
      else ws.send(encodeMessage({ id: request.id, result: [piece] }))
    }))
    const path = join(sockDir, 'mw.sock')
    await new Promise<void>((resolve) => http.listen(path, resolve))
    return {
      url: `unix:${path}`,
      close: async () => {
        for (const client of wss.clients) client.terminate()
        await new Promise((resolve) => http.close(resolve))
        await rm(sockDir, { recursive: true, force: true })
      },
    }
  }

  test('a ring accepted with another size fails the handshake, and the file is removed', async () => {
    const fake = await fakeDaemon({ accepted: true, sizeBytes: 2 * MIB }, {})
    const own = await shmDir()
    try {
      await assert.rejects(connectClient(fake.url, { log: testLog(), dataRing: { dir: own.path, sizeBytes: SMALL_RING_BYTES } }),
        (err: unknown) => err instanceof MemweaveError && err.kind === 'protocol' && /2097152 bytes/.test(err.message))
      assert.deepEqual(readdirSync(own.path), [])
    } finally {
      await fake.close()
      await own.remove()
    }
  })

  for (const [what, piece] of [
    ['past the end of the ring', { ring: SMALL_RING_CAPACITY - 10, length: 100 }],
    ['beyond the position range', { ring: 2 ** 32 - 1, length: 100 }],
    ['longer than the ring', { ring: 0, length: SMALL_RING_CAPACITY + 1 }],
  ] as const) {
    test(`a read reply pointing ${what} disconnects the client instead of returning bytes`, async () => {
      const fake = await fakeDaemon({ accepted: true, sizeBytes: SMALL_RING_BYTES }, piece)
      try {
        const client = await connectClient(fake.url, { log: testLog(), dataRing: { dir: dir.path, sizeBytes: SMALL_RING_BYTES } })
        assert.equal(client.dataRing.active, true)
        await assert.rejects(client.read(1, [{ addr: 0n, length: 100 }]), (err: unknown) => err instanceof MemweaveError && err.kind === 'disconnected')
        assert.equal(client.closed, true)
      } finally {
        await fake.close()
      }
    })
  }

  test('ring pieces from a daemon that was never offered a ring are a protocol error for that read', async () => {
    const fake = await fakeDaemon(undefined, { ring: 0, length: 100 })
    try {
      const client = await connectClient(fake.url, { log: testLog(), dataRing: false })
      await assert.rejects(client.read(1, [{ addr: 0n, length: 100 }]), (err: unknown) => err instanceof MemweaveError && /must be binary/.test(err.message))
      await client.disconnect()
    } finally {
      await fake.close()
    }
  })
})
