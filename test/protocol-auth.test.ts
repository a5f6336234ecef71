/**
 * Who may connect and where a daemon may listen: protocol versions, tokens
 * (mandatory beyond loopback), TLS, connection loops, the default socket
 * path, stale socket files and a second daemon on a live socket.
 */
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { promisify } from 'node:util'
import { MemweaveError } from '../src/errors/index.js'
import { CLOSE_CODES, connectClient, defaultSocketPath, formatVersion, PROTOCOL_VERSION, startServer } from '../src/net/index.js'
import { makeTree, RawPeer, serve, testLog } from './protocol-kit.js'
import { isKind } from './error-kit.js'

const TOKEN = 'correct-horse-battery-staple'

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'memweave-auth-'))
}

test('a different protocol major is refused with both versions named', async () => {
  const srv = await serve(makeTree().tree, { tcp: false })
  const peer = await RawPeer.connect(srv.unixUrl)
  try {
    peer.send({ id: 1, op: 'hello', version: { major: 2, minor: 3 } })
    const reply = await peer.reply(1)
    const error = reply.error as { code: number; message: string }
    const rebuilt = MemweaveError.fromCode(error.code, error.message)
    assert.equal(rebuilt.kind, 'version_mismatch')
    assert.match(rebuilt.message, new RegExp(`client speaks 2\\.3, this daemon speaks ${formatVersion(PROTOCOL_VERSION).replace(".", "\\.")}`))
    assert.equal((await peer.closed).code, CLOSE_CODES.versionMismatch)
    // A newer minor of the same major is fine.
    const newer = await RawPeer.connect(srv.unixUrl)
    newer.send({ id: 1, op: 'hello', version: { major: 1, minor: 99 } })
    assert.ok('result' in (await newer.reply(1)))
    newer.ws.terminate()
  } finally {
    await srv.stop()
  }
})

test('with a token configured, hello must carry it', async () => {
  const t = makeTree()
  const srv = await serve(t.tree, { token: TOKEN })
  try {
    await assert.rejects(connectClient(srv.tcpUrl), isKind('unauthorized', /requires a token/))
    await assert.rejects(connectClient(srv.unixUrl, { token: 'wrong-token-of-some-length' }), isKind('unauthorized', /not valid/))
    const peer = await RawPeer.connect(srv.tcpUrl)
    peer.send({ id: 1, op: 'hello', version: { major: 1, minor: 0 }, token: 'nope' })
    assert.ok('error' in (await peer.reply(1)))
    assert.equal((await peer.closed).code, CLOSE_CODES.unauthorized)
    const client = await connectClient(srv.tcpUrl, { token: TOKEN })
    assert.deepEqual((await client.list('')).map((e) => e.name), ['ctl', 'data'])
    await client.disconnect()
  } finally {
    await srv.stop()
  }
})

test('listening beyond loopback needs a token', async () => {
  const tree = makeTree().tree
  await assert.rejects(startServer({ tree, listen: ['ws://0.0.0.0:0'], log: testLog() }),
    (err: unknown) => err instanceof MemweaveError && /refusing to listen on ws:\/\/0\.0\.0\.0:0 without a token/.test(err.message))
  await assert.rejects(startServer({ tree, listen: ['ws://[::]:0'], log: testLog() }), isKind('invalid_argument', /without a token/))
  await assert.rejects(startServer({ tree, listen: ['ws://127.0.0.1:0'], token: '', log: testLog() }), isKind('invalid_argument', /empty/))
  const server = await startServer({ tree, listen: ['ws://0.0.0.0:0'], token: TOKEN, log: testLog() })
  try {
    const port = /:(\d+)$/.exec(server.addresses[0] ?? '')?.[1]
    assert.ok(port !== undefined && port !== '0')
    const client = await connectClient(`ws://127.0.0.1:${port}`, { token: TOKEN })
    assert.equal(server.connections(), 1)
    await client.disconnect()
  } finally {
    await server.close()
  }
})

test('wss with a certificate, and a client that trusts it', async () => {
  const dir = await tempDir()
  const certFile = join(dir, 'cert.pem')
  const keyFile = join(dir, 'key.pem')
  await promisify(execFile)('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', keyFile, '-out', certFile])
  const tree = makeTree().tree
  await assert.rejects(startServer({ tree, listen: ['wss://127.0.0.1:0'], log: testLog() }), isKind('invalid_argument', /certificate/))
  const server = await startServer({ tree, listen: ['wss://127.0.0.1:0'], log: testLog(), tls: { certFile, keyFile } })
  try {
    const url = server.addresses[0] ?? ''
    assert.match(url, /^wss:\/\/127\.0\.0\.1:\d+$/)
    await assert.rejects(connectClient(url), (err: unknown) => err instanceof MemweaveError && /certificate/i.test(err.message))
    const client = await connectClient(url, { tls: { caFile: certFile } })
    assert.deepEqual((await client.list('')).map((e) => e.name), ['ctl', 'data'])
    await client.disconnect()
  } finally {
    await server.close()
    await rm(dir, { recursive: true, force: true })
  }
})

test('a connection whose chain already holds this node is refused (peer loops)', async () => {
  const srv = await serve(makeTree().tree, { tcp: false })
  try {
    const first = await connectClient(srv.unixUrl)
    const nodeId = first.serverInfo.nodeId
    await first.disconnect()
    await assert.rejects(connectClient(srv.unixUrl, { chain: ['elsewhere', nodeId] }), isKind('invalid_argument', /connection loop/))
    const fine = await connectClient(srv.unixUrl, { chain: ['elsewhere'] })
    await fine.disconnect()
  } finally {
    await srv.stop()
  }
})

test('default socket path follows MEMWEAVE_SOCKET, root, XDG_RUNTIME_DIR, then /tmp', () => {
  assert.equal(defaultSocketPath({ MEMWEAVE_SOCKET: '/srv/mw.sock', XDG_RUNTIME_DIR: '/run/user/5' }, 5), '/srv/mw.sock')
  assert.equal(defaultSocketPath({ XDG_RUNTIME_DIR: '/run/user/0' }, 0), '/run/memweave/memweave.sock')
  assert.equal(defaultSocketPath({ XDG_RUNTIME_DIR: '/run/user/1000' }, 1000), '/run/user/1000/memweave.sock')
  assert.equal(defaultSocketPath({}, 1000), '/tmp/memweave-1000/memweave.sock')
  assert.equal(defaultSocketPath({ MEMWEAVE_SOCKET: '' }, 1000), '/tmp/memweave-1000/memweave.sock')
})

test('a stale socket file is replaced; a live daemon or a plain file is not', async () => {
  const dir = await tempDir()
  const path = join(dir, 'nested', 'mw.sock')
  const tree = makeTree().tree
  try {
    // A daemon killed with SIGKILL leaves its socket file behind.
    const child = spawn(process.execPath, ['-e', `require('node:fs').mkdirSync(${JSON.stringify(join(dir, 'nested'))});
      require('node:net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`])
    await new Promise((resolve) => child.once('exit', resolve))
    assert.ok((await stat(path)).isSocket())
    await assert.rejects(connectClient(`unix:${path}`), isKind('disconnected', /memweave serve/))

    const first = await startServer({ tree, listen: [`unix:${path}`], log: testLog() })
    assert.equal(((await stat(path)).mode & 0o777).toString(8), '600')
    await assert.rejects(startServer({ tree, listen: [`unix:${path}`], log: testLog() }), isKind('busy', /already listening/))
    const client = await connectClient(`unix:${path}`)
    assert.equal(first.connections(), 1)
    await client.disconnect()
    await first.close()
    await assert.rejects(stat(path), (err: unknown) => err instanceof Error && 'code' in err && err.code === 'ENOENT')

    await writeFile(path, 'precious')
    await assert.rejects(startServer({ tree, listen: [`unix:${path}`], log: testLog() }), isKind('already_exists', /not a socket/))
    assert.equal(await readFile(path, 'utf8'), 'precious')
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('a failed listener releases the ones already bound', async () => {
  const dir = await tempDir()
  const tree = makeTree().tree
  const blocker = await startServer({ tree, listen: ['ws://127.0.0.1:0'], log: testLog() })
  try {
    const taken = blocker.addresses[0] ?? ''
    const sock = join(dir, 'mw.sock')
    await assert.rejects(startServer({ tree, listen: [`unix:${sock}`, taken], log: testLog() }), isKind('busy', /address already in use/))
    await assert.rejects(stat(sock), (err: unknown) => err instanceof Error && 'code' in err && err.code === 'ENOENT')
  } finally {
    await blocker.close()
    await rm(dir, { recursive: true, force: true })
  }
})
