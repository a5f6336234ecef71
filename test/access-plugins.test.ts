/**
 * Plugin loading on a real daemon (issue 10): only from the allowed plugin
 * roots, only regular files, checked before anything is opened, never
 * quoting a file's content; bundles in a private folder no other user (the
 * sandbox's nobody included) can list or read, removed at exit and, when a
 * daemon died, at the next start; a read token loads nothing. And a
 * protocol `cancel` reaching a sandboxed plugin's rpc (issue 12): the
 * handler's ctx.signal aborts and it stops.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { chmod, mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import { MemweaveError } from '../src/errors/index.js'
import { connectClient } from '../src/net/index.js'
import { REPO_ROOT, runCli, startDaemon } from './cli-kit.js'
import type { RunningDaemon } from './cli-kit.js'
import { SANDBOX_SKIP, waitFor } from './plugin-kit.js'
import { RawPeer } from './protocol-kit.js'

const run = promisify(execFile)
const SECRET = 'SECRETHASH-7f3a91'
/** A pid above Linux's pid_max (2^22): no process has it, so its bundle folder is stale. */
const DEAD_PID = 4_194_305

const TINY = "export const plugin = { name: 'tiny', version: '0.1.0', attachesTo: 'os', leaves: { 'tiny.txt': { read: (ctx) => `os ${ctx.object.name}\\n` } } }\n"

/** Counts to STEPS (10 ms a step, reporting progress) unless its signal aborts; `last` tells how the previous count ended. */
const SLOW = `
const state = { ended: 'not yet' }
export const plugin = {
  name: 'slow', version: '1.0.0', attachesTo: 'os',
  leaves: {
    count: { rpc: async (ctx) => {
      state.ended = 'running'
      for (let i = 1; i <= 1000; i++) {
        if (ctx.signal.aborted) { state.ended = 'aborted at ' + i; return { aborted: i } }
        ctx.progress(i / 1000)
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
      state.ended = 'finished'
      return { finished: true }
    } },
    last: { rpc: () => state.ended },
  },
}
`

async function asNobody(command: string, args: readonly string[]): Promise<{ code: number; stderr: string }> {
  try {
    await run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', command, ...args], { env: { PATH: process.env.PATH ?? '' } })
    return { code: 0, stderr: '' }
  } catch (err) {
    const failed = err as { code?: number; stderr?: string }
    return { code: failed.code ?? -1, stderr: failed.stderr ?? '' }
  }
}

describe('plugin load on a daemon', { skip: SANDBOX_SKIP, concurrency: false }, () => {
  let dir = ''
  let stateDir = ''
  let roots = ''
  let socket = ''
  let tcp = ''
  let daemon: RunningDaemon | undefined
  const env = (): Record<string, string> => ({ MEMWEAVE_STATE_DIR: stateDir })
  const load = (path: string): ReturnType<typeof runCli> => runCli(['--daemon', `unix:${socket}`, 'plugin', 'load', path], { env: env() })

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'memweave-access-plugins-'))
    await chmod(dir, 0o755)
    stateDir = join(dir, 'state')
    roots = join(dir, 'plugins')
    socket = join(dir, 'mw.sock')
    await mkdir(roots)
    await mkdir(join(dir, 'outside'))
    await writeFile(join(roots, 'tiny.mjs'), TINY)
    await writeFile(join(roots, 'slow.mjs'), SLOW)
    await writeFile(join(dir, 'outside', 'secret.mjs'), `${SECRET}\n`, { mode: 0o400 })
    await symlink(join(dir, 'outside', 'secret.mjs'), join(roots, 'link.mjs'))
    await writeFile(join(roots, 'binary.mjs'), Buffer.from(`${SECRET}\0\x01\x02`))
    await writeFile(join(roots, 'secret-in-root.mjs'), `root:$6$${SECRET}:19000:0:99999:7:::\n`, { mode: 0o400 })
    await run('mkfifo', [join(roots, 'fifo.mjs')])
    // A bundle folder left by a daemon that died: removed when the next one starts its plugin host.
    await mkdir(join(stateDir, `plugin-bundles-${DEAD_PID}-left`), { recursive: true, mode: 0o700 })
    await chmod(stateDir, 0o700)
    await writeFile(join(stateDir, `plugin-bundles-${DEAD_PID}-left`, '1-old.mjs'), 'old', { mode: 0o600 })
    daemon = await startDaemon(['--listen', `unix:${socket}`, '--listen', 'ws://127.0.0.1:0', '--plugin-root', roots, '--with', 'os host native', '--log-level', 'info'], { env: env() })
    tcp = daemon.addresses.find((a) => a.startsWith('ws://')) ?? ''
  })

  after(async () => {
    if (daemon !== undefined) assert.equal((await daemon.stop()).code, 0)
    await rm(dir, { recursive: true, force: true })
  })

  test('a bundle folder a dead daemon left behind is removed at start', async () => {
    await waitFor('the stale folder to go', async () => !(await readdir(stateDir)).some((name) => name.includes(String(DEAD_PID))))
  })

  test('a plugin in the allowed roots loads', async () => {
    const loaded = await load(join(roots, 'tiny.mjs'))
    assert.equal(loaded.code, 0, loaded.stderr)
    assert.match(loaded.stdout, /plugin 'tiny' 0\.1\.0 loaded/)
    const text = await runCli(['--daemon', `unix:${socket}`, 'cat', 'os/host/tiny.txt'], { env: env() })
    assert.equal(text.stdout, 'os host\n', text.stderr)
  })

  test('/etc/shadow, a link out of the roots, a FIFO, a binary and a secret in the root are refused, quoting none of it', async () => {
    const cases: [string, RegExp][] = [
      ['/etc/shadow', /must be an ES module/],
      [join(roots, 'link.mjs'), /resolves to .*outside\/secret\.mjs\) is outside the allowed roots/],
      [join(dir, 'outside', 'secret.mjs'), /outside the allowed roots/],
      [join(roots, 'fifo.mjs'), /is a FIFO, not a regular file/],
      [join(roots, 'binary.mjs'), /not a text file/],
      [join(roots, 'secret-in-root.mjs'), /does not build: a syntax or build error at line 1/],
      [join(roots, '..', 'outside', 'secret.mjs'), /outside the allowed roots/],
    ]
    const client = await connectClient(`unix:${socket}`)
    const refusal = async (path: string): Promise<string> => {
      const { handle } = await client.open('sys/plugins/load')
      try {
        await client.rpc(handle, path)
      } catch (err) {
        assert.ok(err instanceof MemweaveError, String(err))
        assert.ok(!JSON.stringify(err).includes(SECRET), path)
        return err.message
      } finally {
        await client.close(handle)
      }
      throw new Error(`${path} was loaded`)
    }
    try {
      for (const [path, reason] of cases) {
        const message = await refusal(path)
        assert.match(message, reason, path)
        assert.ok(!message.includes(SECRET) && !message.includes('root:'), `${path}: ${message}`)
      }
      // Named .mjs, /etc/shadow itself is refused for its place, before anything is opened.
      await symlink('/etc/shadow', join(roots, 'shadow.mjs'))
      assert.match(await refusal(join(roots, 'shadow.mjs')), /resolves to \/etc\/shadow\) is outside the allowed roots/)
    } finally {
      await client.disconnect()
    }
    // The CLI says the same in one line.
    const cli = await load(join(roots, 'link.mjs'))
    assert.equal(cli.code, 1)
    assert.match(cli.stderr, /outside the allowed roots/)
    assert.ok(!cli.stderr.includes(SECRET))
    // Nothing blocked on the FIFO: the daemon still loads and serves.
    const after = await runCli(['--daemon', `unix:${socket}`, 'plugin', 'ls'], { env: env() })
    assert.match(after.stdout, /^tiny\b/m, after.stderr)
    assert.ok(!(daemon?.stderr() ?? '').includes(SECRET), 'the log quotes no secret')
  })

  test('bundles are 0600 in a 0700 folder that nobody (the sandbox user) can neither list nor read; sources are not copied', async () => {
    const folders = (await readdir(stateDir)).filter((name) => name.startsWith('plugin-bundles-'))
    assert.deepEqual(folders.filter((name) => name.includes(String(DEAD_PID))), [], 'the dead daemon\'s folder was removed')
    assert.equal(folders.length, 1, folders.join(', '))
    const bundles = join(stateDir, folders[0] ?? '')
    assert.equal(((await stat(bundles)).mode & 0o777).toString(8), '700')
    const files = await readdir(bundles)
    assert.ok(files.length >= 1 && files.every((f) => f.endsWith('.mjs') && !f.includes('source')), files.join(', '))
    for (const file of files) assert.equal(((await stat(join(bundles, file))).mode & 0o777).toString(8), '600', file)
    // Let others through the state folder for a moment, so that only the bundle folder's own mode stands in the way.
    await chmod(stateDir, 0o711)
    try {
      const listed = await asNobody('ls', [bundles])
      assert.notEqual(listed.code, 0)
      assert.match(listed.stderr, /Permission denied/)
      const read = await asNobody('cat', [join(bundles, files[0] ?? '')])
      assert.notEqual(read.code, 0)
      assert.match(read.stderr, /Permission denied/)
    } finally {
      await chmod(stateDir, 0o700)
    }
  })

  test('a read token cannot load plugins', async () => {
    const added = await runCli(['token', 'add', 'viewer', '--role', 'read'], { env: env() })
    assert.equal(added.code, 0, added.stderr)
    const token = added.stdout.trim()
    const client = await connectClient(tcp, { token })
    try {
      await assert.rejects(client.open('sys/plugins/load'), (err: unknown) => err instanceof MemweaveError && err.kind === 'permission')
    } finally {
      await client.disconnect()
    }
    const cli = await runCli(['--daemon', tcp, '--token', token, 'plugin', 'load', join(roots, 'slow.mjs')], { env: env() })
    assert.equal(cli.code, 1)
    assert.match(cli.stderr, /read role/)
  })

  test('cancel reaches a sandboxed plugin\'s rpc: the call ends as cancelled and the handler stops', async () => {
    const loaded = await load(join(roots, 'slow.mjs'))
    assert.equal(loaded.code, 0, loaded.stderr)
    const raw = await RawPeer.connect(`unix:${socket}`)
    try {
      raw.send({ id: 0, op: 'hello', version: { major: 1, minor: 2 } })
      assert.ok('result' in await raw.reply(0))
      raw.send({ id: 1, op: 'open', path: 'os/host/count' })
      const { handle } = (await raw.reply(1))['result'] as { handle: number }
      raw.send({ id: 2, op: 'rpc', handle, request: null })
      // The plugin is counting once its progress shows; then cancel.
      for (;;) {
        const message = await raw.next()
        if (message['event'] === 'progress' && message['id'] === 2) break
      }
      raw.send({ id: 3, op: 'cancel', target: 2 })
      const answer = await raw.reply(2)
      assert.match(String((answer['error'] as { message?: string } | undefined)?.message), /'rpc' cancelled by the caller/, JSON.stringify(answer))
      raw.send({ id: 4, op: 'open', path: 'os/host/last' })
      const last = (await raw.reply(4))['result'] as { handle: number }
      let ended = ''
      let id = 5
      await waitFor('the plugin to see the abort', async () => {
        raw.send({ id, op: 'rpc', handle: last.handle, request: null })
        ended = String((await raw.reply(id++))['result'])
        return ended !== 'running'
      })
      assert.match(ended, /^aborted at \d+$/)
      assert.ok(Number(ended.split(' ').pop()) < 1000, ended)
    } finally {
      raw.ws.close()
    }
  })

  test('the bundle folder is gone once the daemon stops', async () => {
    assert.equal((await daemon?.stop())?.code, 0)
    daemon = undefined
    assert.deepEqual((await readdir(stateDir)).filter((name) => name.startsWith('plugin-bundles-')), [])
  })
})

// The sandbox reaches the bundle only over its pipe: the runtime's argv names no plugin file.
test('the plugin launch names no plugin file', async () => {
  const { planLaunch } = await import('../src/plugins/sandbox/launch-plan.js')
  const plan = planLaunch({ entry: '/r/plugin-runtime.js', msgpackr: '/m/msgpackr.cjs', readPaths: ['/r/', '/m/msgpackr.cjs'] }, { uid: 65534, gid: 65534, heapLimitMb: 64, addressSpaceLimitMb: 1024 })
  const reads = plan.args.filter((a) => a.startsWith('--allow-fs-read='))
  assert.deepEqual(reads, ['--allow-fs-read=/r/', '--allow-fs-read=/m/msgpackr.cjs'])
  assert.equal(plan.args.at(-1), '/m/msgpackr.cjs')
  assert.ok(REPO_ROOT.length > 0)
})
