/**
 * `memweave serve` and client commands against it over a real unix socket:
 * listing, the daemon's own facts, refusals over the wire, tokens, config
 * files, a second daemon on the same socket, and a clean SIGTERM/SIGINT
 * shutdown that removes the socket.
 */
import assert from 'node:assert/strict'
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { lines, runCli, startDaemon } from './cli-kit.js'
import type { RunningDaemon } from './cli-kit.js'

let dir = ''
before(async () => { dir = await mkdtemp(join(tmpdir(), 'memweave-serve-')) })
after(async () => { await rm(dir, { recursive: true, force: true }) })

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false)
}

function oneLine(result: { code: number | null; stdout: string; stderr: string }, code: number, pattern: RegExp): void {
  assert.equal(result.code, code, `exit code (stderr: ${result.stderr})`)
  assert.equal(lines(result.stderr).length, 1, result.stderr)
  assert.match(result.stderr, /^memweave: /)
  assert.match(result.stderr, pattern)
}

describe('a daemon on a unix socket', () => {
  let started: RunningDaemon | undefined
  const daemon = (): RunningDaemon => { assert.ok(started, 'the daemon started'); return started }
  let socket = ''
  let url = ''

  before(async () => {
    socket = join(dir, 'main.sock')
    started = await startDaemon(['--listen', `unix:${socket}`])
    url = `unix:${socket}`
  })
  after(async () => {
    if (started !== undefined && started.child.exitCode === null) await started.stop()
  })

  test('serve prints where it listens', () => {
    assert.deepEqual(daemon().addresses, [url])
  })

  test('ls of the root over the socket', async () => {
    const result = await runCli(['--daemon', url, 'ls'])
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(lines(result.stdout), ['connector/', 'os/', 'sys/'])
  })

  test('sys info comes from the daemon process, also via MEMWEAVE_DAEMON and a bare path', async () => {
    const viaFlag = await runCli(['--daemon', url, 'sys', 'info', '--json'])
    assert.equal(viaFlag.code, 0, viaFlag.stderr)
    assert.equal((JSON.parse(viaFlag.stdout) as { pid: number }).pid, daemon().child.pid)
    const viaEnv = await runCli(['cat', 'sys/info'], { env: { MEMWEAVE_DAEMON: url } })
    assert.equal((JSON.parse(viaEnv.stdout) as { pid: number }).pid, daemon().child.pid)
    const viaPath = await runCli(['--daemon', socket, 'stat', 'sys/info', '--json'])
    assert.equal((JSON.parse(viaPath.stdout) as { type: string }).type, 'leaf')
    const viaDefault = await runCli(['ls', 'sys'], { env: { MEMWEAVE_SOCKET: socket } })
    assert.match(viaDefault.stdout, /^info$/m)
  })

  test('refusals of the control leaves travel back as one line', async () => {
    oneLine(await runCli(['--daemon', url, 'connector', 'new', 'a.b', 'file:/x']), 1, /must not contain '\.'/)
    oneLine(await runCli(['--daemon', url, 'connector', 'new', 'x', 'nope:/x']), 1, /unknown connector kind 'nope'/)
    oneLine(await runCli(['--daemon', url, 'os', 'rm', 'ghost']), 1, /no OS named 'ghost'/)
    oneLine(await runCli(['--daemon', url, 'cat', 'sys/nothing']), 1, /no such path: 'sys\/nothing'/)
  })

  test('read --hex over the socket matches cat', async () => {
    const whole = await runCli(['--daemon', url, 'cat', 'sys/mappings'])
    assert.equal(whole.code, 0, whole.stderr)
    const dump = await runCli(['--daemon', url, 'read', 'sys/mappings', '--length', '16', '--hex'])
    const hex = whole.stdoutBytes.subarray(0, 16).toString('hex').replace(/(.{4})(?!$)/g, '$1 ')
    assert.equal(dump.stdout.slice(0, 10 + 39), `00000000: ${hex}`)
  })

  test('a second daemon on the same socket refuses to start, in one line', async () => {
    const result = await runCli(['serve', '--listen', url])
    oneLine(result, 1, /already listening|in use/)
    assert.ok(await exists(socket), 'the first daemon keeps its socket')
  })

  test('SIGTERM stops it with exit 0 and removes the socket', async () => {
    const { code, signal } = await daemon().stop('SIGTERM')
    assert.equal(signal, null)
    assert.equal(code, 0, daemon().stderr())
    assert.equal(await exists(socket), false)
    assert.match(daemon().stderr(), /shutting down signal=SIGTERM/)
    const after = await runCli(['--daemon', url, 'ls'])
    oneLine(after, 3, /no daemon answers/)
  })
})

describe('serve options', { concurrency: 3 }, () => {
  test('SIGINT also stops it cleanly; --json makes JSON logs and a JSON ready line', async () => {
    const socket = join(dir, 'json.sock')
    const daemon = await startDaemon(['--listen', `unix:${socket}`, '--json'])
    const ready = JSON.parse(lines(daemon.stdout())[0] ?? '') as { listening: string[]; pid: number }
    assert.deepEqual(ready.listening, [`unix:${socket}`])
    const { code } = await daemon.stop('SIGINT')
    assert.equal(code, 0)
    for (const line of lines(daemon.stderr())) assert.equal(typeof (JSON.parse(line) as { level: number }).level, 'number')
    assert.equal(await exists(socket), false)
  })

  test('a token file makes the daemon ask TCP clients for that token; the owner-only unix socket needs none', async () => {
    const socket = join(dir, 'token.sock')
    const tokenFile = join(dir, 'token')
    await writeFile(tokenFile, 's3cret-token\n', { mode: 0o600 })
    const daemon = await startDaemon(['--listen', `unix:${socket}`, '--listen', 'ws://127.0.0.1:0', '--token-file', tokenFile, '--json'])
    try {
      const tcp = daemon.addresses.find((a) => a.startsWith('ws://')) ?? ''
      const without = await runCli(['--daemon', tcp, 'ls'])
      oneLine(without, 1, /requires a token/i)
      assert.doesNotMatch(without.stderr, /s3cret/)
      const wrong = await runCli(['--daemon', tcp, '--token', 'guess', 'ls'])
      oneLine(wrong, 1, /token is not valid/i)
      assert.doesNotMatch(wrong.stderr, /guess|s3cret/)
      const withFile = await runCli(['--daemon', tcp, '--token-file', tokenFile, 'ls'])
      assert.equal(withFile.code, 0, withFile.stderr)
      const withEnv = await runCli(['--daemon', tcp, 'ls'], { env: { MEMWEAVE_TOKEN: 's3cret-token' } })
      assert.equal(withEnv.code, 0, withEnv.stderr)
      const unix = await runCli(['--daemon', `unix:${socket}`, 'ls'])
      assert.equal(unix.code, 0, unix.stderr)
      // A token given on the unix socket must still be a valid one.
      oneLine(await runCli(['--daemon', `unix:${socket}`, '--token', 'guess', 'ls']), 1, /not valid/)
    } finally {
      assert.equal((await daemon.stop()).code, 0)
    }
  })

  test('listen comes from the config file', async () => {
    const socket = join(dir, 'config.sock')
    const config = join(dir, 'serve.toml')
    await writeFile(config, `listen = ["unix:${socket}"]\nlog_level = "warn"\n`)
    const daemon = await startDaemon(['--config', config])
    try {
      assert.deepEqual(daemon.addresses, [`unix:${socket}`])
      assert.equal(daemon.stderr(), '', 'log_level = "warn" keeps start-up quiet')
    } finally {
      assert.equal((await daemon.stop()).code, 0)
    }
  })

  test('start-up errors are one line and a non-zero exit', async () => {
    const config = join(dir, 'bad-serve.toml')
    await writeFile(config, 'listen = "unix:/x.sock"\n')
    oneLine(await runCli(['serve', '--config', config]), 1, /bad-serve\.toml: listen: must be an array of strings/)
    oneLine(await runCli(['serve', '--config', join(dir, 'missing.toml')]), 1, /cannot read config .*missing\.toml/)
    oneLine(await runCli(['serve', '--token', 'x', '--listen', `unix:${join(dir, 't.sock')}`]), 2, /--token-file or MEMWEAVE_TOKEN/)
    oneLine(await runCli(['serve', '--listen', 'ws://0.0.0.0:0']), 1, /token/)
    oneLine(await runCli(['serve', '--listen', `unix:${join(dir, 'w.sock')}`, '--with', 'connector x nope:/a']), 1, /--with 'connector x nope:\/a': unknown connector kind/)
    oneLine(await runCli(['serve', '--listen', 'tcp://1.2.3.4:5']), 2, /is not unix:\/PATH/)
  })
})
