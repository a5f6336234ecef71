/**
 * Composition with real daemons (`memweave serve` child processes) on
 * loopback: C holds a dump; B mounts C over a unix socket and listens on
 * wss:// (self-signed certificate, token); A mounts B pinning B's
 * fingerprint; D mounts A at runtime with `memweave peer add`.
 *
 *   D ──unix──▶ A ──wss+token+pin──▶ B ──unix──▶ C (dump, guest)
 *
 * Bytes of C's dump read through A and D; an OS made on B from A; an OS
 * made on A over B's flattened connector (Linux, when the guest fixture is
 * built); a cycle (C mounts A); bad tokens, fingerprints and protocol
 * versions refused; B killed mid-read (handles through it go stale, A's
 * own keep working) and restarted (new opens work).
 */
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { WebSocketServer } from 'ws'
import { MemweaveError } from '../src/errors/index.js'
import { connectClient, decodeMessage, encodeMessage } from '../src/net/index.js'
import type { ProtocolClient } from '../src/net/index.js'
import { runCli, startDaemon } from './cli-kit.js'
import type { RunningDaemon } from './cli-kit.js'
import { linuxFixtures, truthWithLateKernelThreads } from './linux-kit.js'
import { waitFor } from './wait-for.js'

const IMAGE_BYTES = 4 << 20
const guest = linuxFixtures().find((f) => f.variant === 'plain')

let dir = ''
const image = new Uint8Array(IMAGE_BYTES).map((_, i) => (i * 131 + (i >> 12)) & 0xff)
const localImage = new Uint8Array(1 << 16).map((_, i) => (i * 7 + 1) & 0xff)
const daemons: Record<'a' | 'b' | 'c' | 'd', RunningDaemon | undefined> = { a: undefined, b: undefined, c: undefined, d: undefined }
const clients: ProtocolClient[] = []
let bPort = 0
let fingerprint = ''

const sock = (name: string): string => `unix:${join(dir, `${name}.sock`)}`

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  if (typeof address !== 'object' || address === null) throw new Error('no port')
  return address.port
}

async function client(name: string): Promise<ProtocolClient> {
  const c = await connectClient(sock(name), { name: 'test' })
  clients.push(c)
  return c
}

async function readLeaf(c: ProtocolClient, path: string): Promise<string> {
  const { handle } = await c.open(path)
  try {
    const [result] = await c.read(handle, [{ addr: 0n, length: 1 << 20 }])
    if (result === undefined || !result.ok) throw result?.error ?? new Error(`no data from ${path}`)
    return Buffer.from(result.data).toString('utf8')
  } finally {
    await c.close(handle)
  }
}

interface PeerRow { name: string; state: string; lastError?: string; latencyMs?: number; traffic: { messagesIn: number; bytesIn: number } }

async function peers(c: ProtocolClient): Promise<PeerRow[]> {
  return JSON.parse(await readLeaf(c, 'sys/peers/list')) as PeerRow[]
}

/** Polls until check() holds: daemons connect in the background, with backoff (a check that fails meanwhile counts as not yet). */
function waitUntil(what: string, check: () => Promise<boolean>, limitMs = 30_000): Promise<void> {
  return waitFor(what, () => check().catch(() => false), { limitMs, everyMs: 100 })
}

const peerUp = (c: ProtocolClient, name: string) => async (): Promise<boolean> => (await peers(c)).some((p) => p.name === name && p.state === 'up')

async function expectBytes(c: ProtocolClient, handle: number, offsets: readonly number[], length: number, source = image): Promise<void> {
  const results = await c.read(handle, offsets.map((o) => ({ addr: BigInt(o), length })))
  results.forEach((r, i) => {
    assert.ok(r.ok, `piece ${i}: ${r.ok ? '' : r.error.message}`)
    const at = offsets[i] ?? 0
    assert.deepEqual(Buffer.from(r.data), Buffer.from(source.subarray(at, at + length)), `bytes at ${at}`)
  })
}

function startB(): Promise<RunningDaemon> {
  return startDaemon(['--log-level', 'warn', '--listen', `wss://127.0.0.1:${bPort}`, '--token-file', join(dir, 'token-b'),
    '--connect', `c=${sock('c')},backoff-max-ms=500`], { env: { MEMWEAVE_STATE_DIR: join(dir, 'state-b') } })
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mw-comp-'))
  await writeFile(join(dir, 'dump.raw'), image)
  await writeFile(join(dir, 'local.raw'), localImage)
  await writeFile(join(dir, 'token-b'), 'b-secret-token\n')
  await writeFile(join(dir, 'token-wrong'), 'not-the-token\n')
  bPort = await freePort()
  const withGuest = guest === undefined ? [] : ['--with', `connector guest file:${guest.dump}`]
  const [c, b] = await Promise.all([
    startDaemon(['--log-level', 'warn', '--listen', sock('c'), '--with', `connector dump file:${join(dir, 'dump.raw')}`, ...withGuest]),
    startB(),
  ])
  daemons.c = c
  daemons.b = b
  fingerprint = /^certificate SHA256 (\S+)$/m.exec(b.stdout())?.[1] ?? ''
  assert.match(fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/, `B printed its certificate fingerprint: ${b.stdout()}`)
  const [a, d] = await Promise.all([
    startDaemon(['--log-level', 'warn', '--listen', sock('a'), '--with', `connector local file:${join(dir, 'local.raw')}`,
      '--connect', `b=wss://127.0.0.1:${bPort},token-file=${join(dir, 'token-b')},fingerprint=${fingerprint},backoff-max-ms=500`]),
    startDaemon(['--log-level', 'warn', '--listen', sock('d')]),
  ])
  daemons.a = a
  daemons.d = d
  const added = await runCli(['--daemon', sock('d'), 'peer', 'add', 'a', sock('a')])
  assert.equal(added.code, 0, added.stderr)
  assert.match(added.stdout, /peer 'a' added and connected/)
  const viaA = await client('a')
  await waitUntil("A's peer b and B's peer c", async () => (await peerUp(viaA, 'b')()) && (await readLeaf(viaA, 'b/sys/peers/list')).includes('"up"'))
})

after(async () => {
  for (const c of clients) await c.disconnect().catch(() => undefined)
  await Promise.all(Object.values(daemons).map(async (d) => { if (d !== undefined && d.child.exitCode === null && d.child.signalCode === null) await d.stop() }))
  await rm(dir, { recursive: true, force: true })
})

describe('three daemons A→B→C and D→A', () => {
  test("C's dump reads the same through A (both namings) and through D, with chains in sys/handles", async () => {
    const a = await client('a')
    const d = await client('d')
    const offsets = [0, 4096, 1 << 20, IMAGE_BYTES - 4096]
    for (const path of ['b/c/connector/dump/mem', 'connector/b.c.dump/mem']) {
      const opened = await a.open(path)
      assert.equal(opened.sizeBytes, BigInt(IMAGE_BYTES))
      assert.equal(opened.chain?.length, 2, `${path} goes through two peers: ${String(opened.chain)}`)
      await expectBytes(a, opened.handle, offsets, 4096)
      await a.close(opened.handle)
    }
    const viaD = await d.open('connector/a.b.c.dump/mem')
    await expectBytes(d, viaD.handle, offsets, 4096)
    await expectBytes(d, viaD.handle, [12345], 1 << 20)
    const handles = JSON.parse(await readLeaf(d, 'sys/handles')) as { path: string; chain: string[] }[]
    const entry = handles.find((h) => h.path === 'connector/a.b.c.dump/mem')
    assert.ok(entry, 'D lists the handle')
    assert.deepEqual(entry.chain.map((link) => link.replace(/#\d+$/, '')), ['a', 'b', 'c'])
    await d.close(viaD.handle)
  })

  test('flattened names: one branch per listing, prefixed per hop', async () => {
    const a = await client('a')
    const d = await client('d')
    const aConnectors = (await a.list('connector')).map((e) => e.name)
    assert.deepEqual(aConnectors.filter((n) => n.includes('.')), ['b.c.dump', ...(guest === undefined ? [] : ['b.c.guest'])])
    assert.ok(aConnectors.includes('local'))
    const dConnectors = (await d.list('connector')).map((e) => e.name).filter((n) => n.includes('.'))
    assert.deepEqual(dConnectors, ['a.b.c.dump', ...(guest === undefined ? [] : ['a.b.c.guest']), 'a.local'])
    const info = JSON.parse(await readLeaf(d, 'connector/a.b.c.dump/info')) as { kind: string; path: string }
    assert.equal(info.kind, 'file')
    assert.equal(info.path, join(dir, 'dump.raw'))
    const ls = await runCli(['--daemon', sock('d'), 'peer', 'ls'])
    assert.equal(ls.code, 0, ls.stderr)
    assert.match(ls.stdout, /^a\s+unix:\S+a\.sock\s+up\s+[\d.]+ ms/m)
  })

  test('an OS created on B from A (A writes b/os/new) is on B, and shows on A as os/b.NAME', async () => {
    const a = await client('a')
    const { handle } = await a.open('b/os/new')
    assert.match(String(await a.rpc(handle, 'host native')), /os 'host' created/)
    await a.close(handle)
    // Trusting B's certificate as a CA works as well as pinning it.
    const b = await connectClient(`wss://127.0.0.1:${bPort}`, { token: 'b-secret-token', tls: { caFile: join(dir, 'state-b', 'tls-cert.pem') }, name: 'test' })
    clients.push(b)
    assert.ok((await b.list('os')).some((e) => e.name === 'host'), 'B has the OS')
    assert.ok((await a.list('os')).some((e) => e.name === 'b.host'), 'A shows it flattened')
    const info = JSON.parse(await readLeaf(a, 'os/b.host/info')) as { kind?: string }
    assert.equal(info.kind, 'native')
  })

  test('an OS created on A over connector b.c.guest is only on A, and reads the guest through two hops', { skip: guest === undefined ? 'no guest fixture built' : false }, async () => {
    assert.ok(guest)
    const a = await client('a')
    const { handle } = await a.open('os/new')
    assert.match(String(await a.rpc(handle, 'g -c b.c.guest linux')), /os 'g' created \(linux/)
    await a.close(handle)
    const pids = (await a.list('os/g/processes/by-pid')).map((e) => Number(e.name)).sort((x, y) => x - y)
    const listed = await Promise.all(pids.map(async (pid) => {
      const info = JSON.parse(await readLeaf(a, `os/g/processes/by-pid/${pid}/info`)) as { ppid: number; name: string }
      return { pid, ppid: info.ppid, name: info.name }
    }))
    assert.deepEqual(pids, truthWithLateKernelThreads(guest.truth, listed).map((p) => p.pid))
    const pattern = guest.truth.patterns[0]
    assert.ok(pattern, 'the truth has a memory pattern')
    const mem = await a.open(`os/g/processes/by-pid/${pattern.pid}/mem`)
    const [bytes] = await a.read(mem.handle, [{ addr: BigInt(pattern.address), length: pattern.length }])
    assert.ok(bytes?.ok)
    assert.equal(Buffer.from(bytes.data).toString('hex'), pattern.bytes)
    await a.close(mem.handle)
    const connectorInfo = JSON.parse(await readLeaf(a, 'connector/b.c.guest/info')) as { kind: string; chain: string[] }
    assert.equal(connectorInfo.kind, 'remote')
    assert.equal(connectorInfo.chain.length, 2)
    const b = await connectClient(`wss://127.0.0.1:${bPort}`, { token: 'b-secret-token', tls: { fingerprint }, name: 'test' })
    clients.push(b)
    assert.ok(!(await b.list('os')).some((e) => e.name === 'g' || e.name.endsWith('.g')), 'B does not see it')
    assert.ok(!(await b.list('connector')).some((e) => e.name.endsWith('b.c.guest')), "B has no connector of A's")
    // The connector made on demand goes with the last OS on it; the flattened name then shows C's own connector again.
    const rmOs = await a.open('os/rm')
    await a.rpc(rmOs.handle, 'g')
    await waitUntil('the on-demand connector going', async () => (JSON.parse(await readLeaf(a, 'connector/b.c.guest/info')) as { kind: string }).kind === 'file')
    const again = await a.open('os/new')
    assert.match(String(await a.rpc(again.handle, 'g -c b.c.guest linux')), /os 'g' created/)
    await a.close(again.handle)
    await a.close(rmOs.handle)
  })

  test('a cycle (C mounts A) lists finitely, never shows a node its own objects, and refuses looping paths', async () => {
    const added = await runCli(['--daemon', sock('c'), 'peer', 'add', 'a', sock('a')])
    assert.match(added.stdout, /peer 'a' added and connected/, added.stderr)
    const a = await client('a')
    const c = await client('c')
    const aConnectors = (await a.list('connector')).map((e) => e.name)
    assert.ok(!aConnectors.some((n) => n.startsWith('b.c.a.')), `A does not see itself through the cycle: ${aConnectors.join(' ')}`)
    const cConnectors = (await c.list('connector')).map((e) => e.name)
    assert.ok(cConnectors.includes('a.local') && cConnectors.includes('a.b.c.dump') === false, `C: ${cConnectors.join(' ')}`)
    await assert.rejects(a.list('b/c/a/connector'), (err: unknown) => err instanceof MemweaveError && /composition loop/.test(err.message))
    const removed = await runCli(['--daemon', sock('c'), 'peer', 'rm', 'a'])
    assert.equal(removed.code, 0, removed.stderr)
  })

  test('a wrong token, a wrong fingerprint and another protocol version are refused, in sys/peers and the log', async () => {
    const d = await client('d')
    const wrongToken = await runCli(['--daemon', sock('d'), 'peer', 'add', 'x1', `wss://127.0.0.1:${bPort}`, '--token-file', join(dir, 'token-wrong'), '--fingerprint', fingerprint])
    assert.match(wrongToken.stdout, /not connected yet: the token is not valid for this daemon/, wrongToken.stderr)
    const badPrint = `${fingerprint.startsWith('00') ? '11' : '00'}${fingerprint.slice(2)}`
    const wrongCert = await runCli(['--daemon', sock('d'), 'peer', 'add', 'x2', `wss://127.0.0.1:${bPort}`, '--token-file', join(dir, 'token-b'), '--fingerprint', badPrint])
    assert.match(wrongCert.stdout, /does not match the pinned fingerprint/, wrongCert.stderr)
    assert.ok(wrongCert.stdout.includes(badPrint) && wrongCert.stdout.includes(fingerprint), 'names both fingerprints')
    // A daemon of another protocol major: its hello answers version 99.
    const future = new WebSocketServer({ host: '127.0.0.1', port: 0 })
    future.on('connection', (ws) => ws.on('message', (data: Buffer) => {
      const hello = decodeMessage(data) as { id: number }
      ws.send(encodeMessage({ id: hello.id, result: { version: { major: 99, minor: 0 }, nodeId: 'future', connection: 'c1', limits: { maxMessageBytes: 1 << 20, maxPieces: 16, maxBatchBytes: 1 << 20, maxInFlight: 4 }, node: {} } }))
    }))
    await new Promise((resolve) => future.once('listening', resolve))
    const port = (future.address() as { port: number }).port
    try {
      const old = await runCli(['--daemon', sock('d'), 'peer', 'add', 'x3', `ws://127.0.0.1:${port}`])
      assert.match(old.stdout, /protocol version mismatch: this client speaks 1\.\d+, the daemon at ws:\S+ speaks 99\.0/, old.stderr)
      const rows = await peers(d)
      const row = (name: string): PeerRow | undefined => rows.find((p) => p.name === name)
      assert.equal(row('x1')?.state, 'down')
      assert.match(row('x1')?.lastError ?? '', /token is not valid/)
      assert.match(row('x2')?.lastError ?? '', /pinned fingerprint/)
      assert.match(row('x3')?.lastError ?? '', /version mismatch/)
      assert.match(daemons.d?.stderr() ?? '', /peer 'x3' is down: protocol version mismatch/)
    } finally {
      for (const name of ['x1', 'x2', 'x3']) await runCli(['--daemon', sock('d'), 'peer', 'rm', name])
      await new Promise((resolve) => future.close(resolve))
    }
    assert.deepEqual((await peers(d)).map((p) => p.name), ['a'])
  })

  test("killing B mid-read makes handles through B stale on A and D, A's own handles keep working, and C drops B's references", async () => {
    const a = await client('a')
    const d = await client('d')
    const c = await client('c')
    const throughA = await a.open('b/c/connector/dump/mem')
    const throughD = await d.open('connector/a.b.c.dump/mem')
    const local = await a.open('connector/local/mem')
    await expectBytes(a, throughA.handle, [0], 4096)
    const heldOnC = (JSON.parse(await readLeaf(c, 'sys/handles')) as { path: string }[]).filter((h) => h.path === 'connector/dump/mem')
    assert.ok(heldOnC.length > 0, 'C holds the dump open for B')
    // Reads keep flowing until B dies under them.
    let started = 0
    const flow = async (cl: ProtocolClient, handle: number): Promise<unknown> => {
      for (;;) {
        const [r] = await cl.read(handle, [{ addr: BigInt((started++ * 65536) % (IMAGE_BYTES - 65536)), length: 65536 }]).catch((err: unknown) => [{ ok: false as const, error: err }])
        if (r !== undefined && !r.ok) return r.error
      }
    }
    const failures = Promise.all([flow(a, throughA.handle), flow(a, throughA.handle), flow(d, throughD.handle)])
    await waitUntil('reads in flight', async () => started > 16)
    await daemons.b?.stop('SIGKILL')
    const errors = await failures
    for (const error of errors) {
      assert.ok(error instanceof MemweaveError, String(error))
      assert.equal(error.kind, 'stale', error.message)
      assert.match(error.message, /peer 'b' disconnected/)
    }
    await assert.rejects(a.read(throughA.handle, [{ addr: 0n, length: 8 }]), (err: unknown) => err instanceof MemweaveError && err.kind === 'stale' && /stale handle.*peer 'b' disconnected/.test(err.message))
    await assert.rejects(d.read(throughD.handle, [{ addr: 0n, length: 8 }]), (err: unknown) => err instanceof MemweaveError && err.kind === 'stale')
    await expectBytes(a, local.handle, [0, 4096], 1024, localImage)
    const row = (await peers(a)).find((p) => p.name === 'b')
    assert.notEqual(row?.state, 'up')
    await waitUntil("C dropping the dead connection's references", async () =>
      !(JSON.parse(await readLeaf(c, 'sys/handles')) as { path: string }[]).some((h) => h.path === 'connector/dump/mem'))
    if (guest !== undefined) await waitUntil("A removing its OS built through B", async () => !(await a.list('os')).some((e) => e.name === 'g'))
    const staleRows = (JSON.parse(await readLeaf(a, 'sys/handles')) as { path: string; stale: boolean }[]).filter((h) => h.path === 'b/c/connector/dump/mem')
    assert.ok(staleRows.every((h) => h.stale))
    await a.close(throughA.handle)
    await d.close(throughD.handle)
    await a.close(local.handle)
  })

  test('after B restarts, A reconnects and new opens work through A and D', async () => {
    daemons.b = await startB()
    assert.ok(daemons.b.stdout().includes(fingerprint), 'B kept its certificate across the restart')
    const a = await client('a')
    const d = await client('d')
    await waitUntil('A reconnecting to B', peerUp(a, 'b'))
    await waitUntil("B's connector list coming back through A", async () => (await a.list('connector')).some((e) => e.name === 'b.c.dump'))
    const again = await a.open('b/c/connector/dump/mem')
    await expectBytes(a, again.handle, [8192, 3 << 20], 4096)
    const viaD = await d.open('connector/a.b.c.dump/mem')
    await expectBytes(d, viaD.handle, [0, 65536], 4096)
    await a.close(again.handle)
    await d.close(viaD.handle)
    const row = (await peers(a)).find((p) => p.name === 'b')
    assert.ok(row !== undefined && row.traffic.messagesIn > 0 && row.traffic.bytesIn > 0, 'traffic counts')
    assert.ok(await readFile(join(dir, 'state-b', 'tls-cert.pem')), 'the certificate lives in the state directory')
  })
})
