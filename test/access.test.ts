/**
 * Access control on the listeners (issue 10), each attack against a real
 * daemon over real sockets: a TCP client without the token, the auto token
 * file and the CLI finding it, another local user (setpriv to nobody), a
 * browser page from another origin, a rebound Host name.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { chmod, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import { WebSocket } from 'ws'
import { MemweaveError } from '../src/errors/index.js'
import { connectClient, PROTOCOL_VERSION } from '../src/net/index.js'
import { REPO_ROOT, runCli, startDaemon } from './cli-kit.js'
import type { RunningDaemon } from './cli-kit.js'
import { encodeMessage, decodeMessage } from '../src/net/index.js'

const run = promisify(execFile)

/** Opens a raw WebSocket with the given headers; resolves with the HTTP status of a refused upgrade, or 101. */
async function upgradeStatus(url: string, headers: Record<string, string>, origin?: string): Promise<number> {
  const ws = new WebSocket(url, { headers, ...(origin === undefined ? {} : { origin }) })
  return new Promise((resolve, reject) => {
    ws.once('open', () => { ws.terminate(); resolve(101) })
    ws.once('unexpected-response', (_request, response) => { response.resume(); ws.terminate(); resolve(response.statusCode ?? 0) })
    ws.once('error', (err) => reject(err))
  })
}

/** A browser-like client: sends an Origin, then a hello with the token; resolves with the hello reply's keys. */
async function browserHello(url: string, origin: string, token: string): Promise<string[]> {
  const ws = new WebSocket(url, { origin })
  await new Promise<void>((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
  ws.send(encodeMessage({ id: 0, op: 'hello', version: PROTOCOL_VERSION, token }))
  const reply = await new Promise<Record<string, unknown>>((resolve) => ws.once('message', (data: Buffer) => resolve(decodeMessage(data) as Record<string, unknown>)))
  ws.terminate()
  return Object.keys(reply)
}

describe('a TCP daemon with no token configured', { concurrency: false }, () => {
  let dir = ''
  let stateDir = ''
  let daemon: RunningDaemon | undefined
  let url = ''
  let port = 0
  let socket = ''
  const env = (): Record<string, string> => ({ MEMWEAVE_STATE_DIR: stateDir })

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'memweave-access-'))
    // Others may traverse the folder: the socket file's own 0600 mode is what keeps them out.
    await chmod(dir, 0o755)
    stateDir = join(dir, 'state')
    socket = join(dir, 'mw.sock')
    daemon = await startDaemon(['--listen', `unix:${socket}`, '--listen', 'ws://127.0.0.1:0', '--json'], { env: env() })
    url = daemon.addresses.find((a) => a.startsWith('ws://')) ?? ''
    port = Number(/:(\d+)$/.exec(url)?.[1])
  })

  after(async () => {
    if (daemon !== undefined) assert.equal((await daemon.stop()).code, 0)
    await rm(dir, { recursive: true, force: true })
  })

  test('writes a 0600 token file in a 0700 state directory and says where', async () => {
    const file = join(stateDir, `tcp-${port}.token`)
    assert.equal(((await stat(file)).mode & 0o777).toString(8), '600')
    assert.equal(((await stat(stateDir)).mode & 0o777).toString(8), '700')
    assert.match(daemon?.stdout() ?? '', new RegExp(`"tokenFiles":\\["${file.replaceAll('/', '\\/')}"\\]`))
  })

  test('the CLI of the same user finds the token by itself', async () => {
    const result = await runCli(['--daemon', url, 'ls'], { env: env() })
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, /^sys\/$/m)
  })

  test('a client without the token is refused, and told where the token lives', async () => {
    await assert.rejects(connectClient(url, { autoToken: false }), (err: unknown) => err instanceof MemweaveError && err.kind === 'unauthorized'
      && err.message.includes(join(stateDir, `tcp-${port}.token`)))
    await assert.rejects(connectClient(url, { token: 'a-guess' }), (err: unknown) => err instanceof MemweaveError && /not valid/.test(err.message))
  })

  test('another local user (nobody) can use neither the TCP listener nor the unix socket', async (t) => {
    const asNobody = async (daemonUrl: string): Promise<{ code: number; stderr: string }> => {
      try {
        await run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, 'bin/memweave.js', '--daemon', daemonUrl, 'ls'],
          { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? '', MEMWEAVE_STATE_DIR: stateDir } })
        return { code: 0, stderr: '' }
      } catch (err) {
        const failed = err as { code?: number; stderr?: string }
        return { code: failed.code ?? -1, stderr: failed.stderr ?? '' }
      }
    }
    if (process.getuid?.() !== 0) { t.skip('needs root to switch to nobody'); return }
    const tcp = await asNobody(url)
    assert.equal(tcp.code, 1, tcp.stderr)
    assert.match(tcp.stderr, /requires a token/)
    const unix = await asNobody(`unix:${socket}`)
    assert.notEqual(unix.code, 0)
    assert.match(unix.stderr, /EACCES|permission denied/i)
  })

  test('a browser page from another origin gets 403; the daemon\'s own origins are served', async () => {
    assert.equal(await upgradeStatus(url, {}, 'http://evil.example'), 403)
    assert.equal(await upgradeStatus(url, {}, 'null'), 403)
    assert.equal(await upgradeStatus(url, {}, `http://127.0.0.1:${port + 1}`), 403)
    const token = (await import('node:fs')).readFileSync(join(stateDir, `tcp-${port}.token`), 'utf8').trim()
    for (const origin of [`http://127.0.0.1:${port}`, `http://localhost:${port}`]) {
      assert.deepEqual(await browserHello(url, origin, token), ['id', 'result'], origin)
    }
  })

  test('a Host header that is not the daemon\'s own is refused (DNS rebinding)', async () => {
    assert.equal(await upgradeStatus(url, { host: `evil.example:${port}` }), 421)
    assert.equal(await upgradeStatus(url, { host: `evil.example:${port}` }, `http://evil.example:${port}`), 421)
    assert.equal(await upgradeStatus(url, { host: `localhost:${port}` }), 101)
  })

  test('stopping the daemon removes the token file', async () => {
    assert.equal((await daemon?.stop())?.code, 0)
    daemon = undefined
    await assert.rejects(stat(join(stateDir, `tcp-${port}.token`)), /ENOENT/)
  })
})

describe('paths a client names are checked files under the allowed roots', { concurrency: false }, () => {
  let dir = ''
  let root = ''
  let daemon: RunningDaemon | undefined
  let client: Awaited<ReturnType<typeof connectClient>> | undefined
  const image = Buffer.alloc(64 * 1024, 0x5a)

  /** Runs one control line through the protocol, as any client could; resolves with the reply or the error. */
  async function control(leaf: string, line: string): Promise<string> {
    assert.ok(client !== undefined)
    const { handle } = await client.open(leaf)
    try {
      return String(await client.rpc(handle, line))
    } finally {
      await client.close(handle)
    }
  }

  async function refusal(leaf: string, line: string): Promise<MemweaveError> {
    const err = await control(leaf, line).then(() => undefined, (e: unknown) => e)
    assert.ok(err instanceof MemweaveError, `'${line}' was accepted`)
    return err
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'memweave-paths-'))
    root = join(dir, 'dumps')
    await mkdir(root)
    await writeFile(join(root, 'ok.raw'), image)
    daemon = await startDaemon(['--listen', `unix:${join(dir, 'mw.sock')}`, '--file-root', root, '--allow-write', '--log-level', 'warn'])
    client = await connectClient(`unix:${join(dir, 'mw.sock')}`)
  })

  after(async () => {
    await client?.disconnect()
    if (daemon !== undefined) assert.equal((await daemon.stop()).code, 0)
    await rm(dir, { recursive: true, force: true })
  })

  test('file:/etc/shadow and /proc/1/mem are outside the roots', async () => {
    assert.match((await refusal('connector/new', 's file:/etc/shadow')).message, /\/etc\/shadow is outside the allowed roots/)
    assert.match((await refusal('connector/new', 'm file:/proc/1/mem')).message, /\/proc.*refused/)
  })

  test('a symlink out of the roots is resolved and refused', async () => {
    await symlink('/etc/passwd', join(root, 'link.raw'))
    assert.match((await refusal('connector/new', `l file:${join(root, 'link.raw')}`)).message, /resolves to \/etc\/passwd\) is outside the allowed roots/)
  })

  test('a FIFO and a device under a root are refused without blocking, and reads go on', async (t) => {
    await run('mkfifo', [join(root, 'fifo.raw')])
    assert.match((await refusal('connector/new', `f file:${join(root, 'fifo.raw')}`)).message, /is a FIFO, not a regular file/)
    if (process.getuid?.() === 0) {
      await run('mknod', [join(root, 'null.raw'), 'c', '1', '3'])
      assert.match((await refusal('connector/new', `d file:${join(root, 'null.raw')}`)).message, /is a device, not a regular file/)
    } else {
      t.diagnostic('not root: no device node made')
    }
    assert.match(await control('connector/new', `ok file:${join(root, 'ok.raw')}`), /created/)
    assert.ok(client !== undefined)
    const { handle } = await client.open('connector/ok/mem')
    const [piece] = await client.read(handle, [{ addr: 0n, length: 16 }])
    await client.close(handle)
    assert.ok(piece?.ok === true && Buffer.from(piece.data).equals(image.subarray(0, 16)))
  })

  test('a peer token-file or ca outside the roots is refused (never read, never sent)', async () => {
    assert.match((await refusal('sys/peers/add', 'x ws://127.0.0.1:1 token-file=/etc/shadow')).message, /token-file \/etc\/shadow is outside the allowed roots/)
    assert.match((await refusal('sys/peers/add', 'y ws://127.0.0.1:1 token-file=/dev/zero')).message, /refused|outside/)
    assert.match((await refusal('sys/peers/add', 'z wss://127.0.0.1:1 ca=/etc/ssl/private/x.pem')).message, /ca|outside|no such/i)
    await writeFile(join(root, 'big.token'), Buffer.alloc(1 << 20, 0x41))
    assert.match((await refusal('sys/peers/add', `w ws://127.0.0.1:1 token-file=${join(root, 'big.token')}`)).message, /more than the 4096 accepted/)
  })

  test('linux symbols= is a checked file too: outside the roots, a FIFO, /proc are refused before any work on memory', async () => {
    await control('connector/new', `sym file:${join(root, 'ok.raw')}`)
    assert.match((await refusal('os/new', 'g1 -c sym linux:symbols=/etc/shadow')).message, /symbols file \/etc\/shadow is outside the allowed roots/)
    assert.match((await refusal('os/new', 'g2 -c sym linux:symbols=/proc/kallsyms')).message, /under \/proc, \/sys and \/dev .*refused/)
    await run('mkfifo', [join(root, 'symbols.fifo')])
    assert.match((await refusal('os/new', `g3 -c sym linux:symbols=${join(root, 'symbols.fifo')}`)).message, /is a FIFO, not a regular file/)
    await writeFile(join(root, 'huge.map'), '')
    await (await import('node:fs/promises')).truncate(join(root, 'huge.map'), 65 * 1024 * 1024)
    assert.match((await refusal('os/new', `g4 -c sym linux:symbols=${join(root, 'huge.map')}`)).message, /more than the 67108864 accepted/)
    // Nothing blocked: the daemon still answers.
    assert.match(await control('connector/new', `sym2 file:${join(root, 'ok.raw')}`), /created/)
  })

  test('a client-named QMP socket must be one on the QEMU process\'s own command line', async (t) => {
    // A process whose binary is named like QEMU (a copy of sleep), started without any QMP socket.
    const bin = join(dir, 'qemu-system-x86_64')
    await (await import('node:fs/promises')).copyFile('/bin/sleep', bin)
    await chmod(bin, 0o755)
    const fake = (await import('node:child_process')).spawn(bin, ['600'], { stdio: 'ignore' })
    try {
      if (fake.pid === undefined) { t.skip('could not start the stand-in process'); return }
      assert.match((await refusal('connector/new', `q qemu:pid=${fake.pid},qmp=/run/docker.sock`)).message,
        /qmp=\/run\/docker\.sock is not a QMP socket on the command line of .*; a client may name only those/)
    } finally {
      fake.kill()
    }
  })

  test('writes need --allow-write and writable=true, and a 0400 dump is never written', async () => {
    assert.ok(client !== undefined)
    const c = client
    const write = async (name: string): Promise<boolean> => {
      const { handle } = await c.open(`connector/${name}/mem`)
      try {
        const [result] = await c.write(handle, [{ addr: 0n, data: Buffer.from('PWNED') }])
        return result?.ok === true
      } catch {
        return false
      } finally {
        await c.close(handle)
      }
    }
    await writeFile(join(root, 'locked.raw'), image, { mode: 0o400 })
    await chmod(join(root, 'locked.raw'), 0o400)
    await writeFile(join(root, 'open.raw'), image, { mode: 0o600 })
    await control('connector/new', `locked file:${join(root, 'locked.raw')},writable=true`)
    await control('connector/new', `notasked file:${join(root, 'open.raw')}`)
    await control('connector/new', `asked file:${join(root, 'open.raw')},writable=true`)
    assert.equal(await write('locked'), false)
    assert.equal(await write('notasked'), false)
    assert.equal(await write('asked'), true)
    assert.ok((await readFile(join(root, 'locked.raw'))).equals(image), 'the 0400 dump is unchanged')
    assert.equal((await readFile(join(root, 'open.raw'))).subarray(0, 5).toString(), 'PWNED')
  })
})

describe('roles and path limits of named tokens', { concurrency: false }, () => {
  let dir = ''
  let daemon: RunningDaemon | undefined
  let tcp = ''
  const env = (): Record<string, string> => ({ MEMWEAVE_STATE_DIR: join(dir, 'state') })
  const isKind = (kind: string, pattern: RegExp) => (err: unknown): boolean => err instanceof MemweaveError && err.kind === kind && pattern.test(err.message)

  async function addToken(...args: string[]): Promise<string> {
    const result = await runCli(['token', 'add', ...args], { env: env() })
    assert.equal(result.code, 0, result.stderr)
    return result.stdout.trim()
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'memweave-roles-'))
    await writeFile(join(dir, 'a.raw'), Buffer.alloc(8192, 1))
    await writeFile(join(dir, 'b.raw'), Buffer.alloc(8192, 2))
    daemon = await startDaemon(['--listen', `unix:${join(dir, 'mw.sock')}`, '--listen', 'ws://127.0.0.1:0', '--json', '--allow-write', '--file-root', dir,
      '--with', `connector a file:${join(dir, 'a.raw')},writable=true`, '--with', `connector b file:${join(dir, 'b.raw')}`], { env: env() })
    tcp = daemon.addresses.find((a) => a.startsWith('ws://')) ?? ''
  })

  after(async () => {
    if (daemon !== undefined) assert.equal((await daemon.stop()).code, 0)
    await rm(dir, { recursive: true, force: true })
  })

  test('tokens are stored hashed in a 0600 file; token ls never shows them', async () => {
    const token = await addToken('viewer', '--role', 'read')
    assert.match(token, /^[0-9a-f]{64}$/)
    const file = join(dir, 'state', 'tokens.json')
    assert.equal(((await stat(file)).mode & 0o777).toString(8), '600')
    assert.ok(!(await readFile(file, 'utf8')).includes(token), 'the store holds no token')
    const listed = await runCli(['token', 'ls'], { env: env() })
    assert.match(listed.stdout, /^viewer\tread\t\(all paths\)/m)
    assert.ok(!listed.stdout.includes(token))
  })

  test('a read token lists, stats, opens and reads; it cannot create, write, load plugins or use any control leaf', async () => {
    const token = await addToken('reader', '--role', 'read')
    const client = await connectClient(tcp, { token })
    try {
      assert.deepEqual((await client.list('connector')).map((e) => e.name), ['a', 'b', 'new', 'rm'])
      const { handle } = await client.open('connector/a/mem')
      const [piece] = await client.read(handle, [{ addr: 0n, length: 4 }])
      assert.ok(piece?.ok === true && Buffer.from(piece.data).equals(Buffer.alloc(4, 1)))
      await assert.rejects(client.write(handle, [{ addr: 0n, data: Buffer.from('x') }]), isKind('permission', /read role: it may not write/))
      await client.close(handle)
      for (const leaf of ['connector/new', 'os/new', 'connector/rm', 'sys/plugins/load', 'sys/peers/add']) {
        await assert.rejects(client.open(leaf), isKind('permission', /read role: it may not use the control leaf/), leaf)
      }
    } finally {
      await client.disconnect()
    }
    assert.equal((await readFile(join(dir, 'a.raw')))[0], 1, 'nothing was written')
    // The same token through the CLI gets one clear line.
    const cli = await runCli(['--daemon', tcp, '--token', token, 'connector', 'new', 'x', `file:${join(dir, 'b.raw')}`], { env: env() })
    assert.equal(cli.code, 1)
    assert.match(cli.stderr, /read role/)
  })

  test('a token limited to connector/a/** sees nothing else: listings, opens, stats', async () => {
    const token = await addToken('narrow', '--role', 'read', '--paths', 'connector/a/**')
    const client = await connectClient(tcp, { token })
    try {
      assert.deepEqual((await client.list('')).map((e) => e.name), ['connector'])
      assert.deepEqual((await client.list('connector')).map((e) => e.name), ['a'])
      assert.ok((await client.list('connector/a')).some((e) => e.name === 'mem'))
      await assert.rejects(client.open('connector/b/mem'), isKind('not_found', /no such path: 'connector\/b\/mem'/))
      await assert.rejects(client.stat('sys/info'), isKind('not_found', /no such path/))
      await assert.rejects(client.list('sys'), isKind('not_found', /no such path/))
      const { handle } = await client.open('connector/a/mem')
      await client.close(handle)
    } finally {
      await client.disconnect()
    }
  })

  test('an admin token may do everything; token rm refuses new connections at once', async () => {
    const token = await addToken('boss', '--role', 'admin')
    const client = await connectClient(tcp, { token })
    const { handle } = await client.open('connector/new')
    assert.match(String(await client.rpc(handle, `c file:${join(dir, 'b.raw')}`)), /created/)
    await client.close(handle)
    await client.disconnect()
    const removed = await runCli(['token', 'rm', 'boss'], { env: env() })
    assert.equal(removed.code, 0, removed.stderr)
    await assert.rejects(connectClient(tcp, { token }), isKind('unauthorized', /not valid/))
  })

  test('the audit log names transport, peer, token name and role — never a token', async () => {
    const log = daemon?.stderr() ?? ''
    assert.match(log, /"audit":"connect","transport":"tcp","peer":"127\.0\.0\.1:\d+","token":"reader","role":"read"/)
    assert.match(log, /"audit":"refused","transport":"tcp"/)
    const store = await readFile(join(dir, 'state', 'tokens.json'), 'utf8')
    for (const hash of store.match(/[0-9a-f]{64}/g) ?? []) assert.ok(!log.includes(hash))
    assert.ok(!/[0-9a-f]{64}/.test(log.replace(/"nodeId":"[^"]*"/g, '')), 'no token-like string in the log')
  })
})

/** The socket is 0660 for gid 65534, and nobody (in that group) connects and lists the tree. */
async function assertNobodysGroupSocket(socket: string): Promise<void> {
  const info = await stat(socket)
  assert.equal((info.mode & 0o777).toString(8), '660')
  assert.equal(info.gid, 65534)
  const { stdout } = await run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, 'bin/memweave.js', '--daemon', `unix:${socket}`, 'ls'],
    { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? '' } })
  assert.match(stdout, /^sys\/$/m)
}

describe('the unix socket', () => {
  test('is owner-only by default; --socket-group lets that group in (0660)', async (t) => {
    if (process.getuid?.() !== 0) { t.skip('needs root to switch to nobody'); return }
    const dir = await mkdtemp(join(tmpdir(), 'memweave-sockgroup-'))
    await chmod(dir, 0o755)
    const socket = join(dir, 'mw.sock')
    const daemon = await startDaemon(['--listen', `unix:${socket}`, '--socket-group', '65534', '--log-level', 'warn'])
    try {
      await assertNobodysGroupSocket(socket)
    } finally {
      assert.equal((await daemon.stop()).code, 0)
      await rm(dir, { recursive: true, force: true })
    }
  })
  test('socket_group in the config does the same as --socket-group (a group name)', async (t) => {
    if (process.getuid?.() !== 0) { t.skip('needs root to switch to nobody'); return }
    const group = (await readFile('/etc/group', 'utf8')).split('\n').find((line) => line.split(':')[2] === '65534')?.split(':')[0]
    if (group === undefined) { t.skip('no group with gid 65534 in /etc/group'); return }
    const dir = await mkdtemp(join(tmpdir(), 'memweave-sockgroup-config-'))
    await chmod(dir, 0o755)
    const socket = join(dir, 'mw.sock')
    const config = join(dir, 'memweave.toml')
    await writeFile(config, `listen = ["unix:${socket}"]\nsocket_group = "${group}"\n`)
    const daemon = await startDaemon(['--config', config, '--log-level', 'warn'])
    try {
      await assertNobodysGroupSocket(socket)
    } finally {
      assert.equal((await daemon.stop()).code, 0)
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('plugin load', () => {
  test('a secret named like a plugin: the bundler\'s refusal quotes none of it, and nothing is written', async () => {
    const { preparePlugin } = await import('../src/plugins/sandbox/plugin-bundle.js')
    const dir = await mkdtemp(join(tmpdir(), 'memweave-plugin-secret-'))
    const work = await mkdtemp(join(tmpdir(), 'memweave-plugin-bundles-'))
    try {
      await writeFile(join(dir, 'shadow'), 'root:$6$SECRETHASHxyz:19000:0:99999:7:::\n', { mode: 0o400 })
      await symlink(join(dir, 'shadow'), join(dir, 'evil.ts'))
      await writeFile(join(dir, 'evil2.ts'), 'root:$6$SECRETHASHxyz:19000:0:99999:7:::\n', { mode: 0o400 })
      // A link whose target is not named like a module never reaches the bundler.
      const linked = await preparePlugin(join(dir, 'evil.ts'), work, undefined, { roots: undefined }).then(() => undefined, (e: unknown) => e)
      assert.ok(linked instanceof MemweaveError && /which is not an ES module/.test(linked.message), String(linked))
      const err = await preparePlugin(join(dir, 'evil2.ts'), work, undefined, { roots: undefined }).then(() => undefined, (e: unknown) => e)
      assert.ok(err instanceof MemweaveError && err.kind === 'invalid_argument', String(err))
      assert.match(err.message, /does not build: a syntax or build error at line 1/)
      for (const refused of [linked, err]) assert.ok(!JSON.stringify(refused).includes('SECRETHASH') && !String(refused).includes('SECRETHASH'))
      const { readdir } = await import('node:fs/promises')
      assert.deepEqual(await readdir(work), [], 'nothing is written for a refused plugin')
    } finally {
      await rm(work, { recursive: true, force: true })
      await rm(dir, { recursive: true, force: true })
    }
  })
})
