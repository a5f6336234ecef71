/**
 * Hostile plugins (examples/plugins/hostile/) in the real sandbox: reading
 * a process outside the grant, reusing a revoked token, writing memory
 * without asking, writing a file, reading /etc/shadow, spawning a process,
 * connecting to 127.0.0.1, spinning forever, allocating without bound.
 * Each attempt fails with a clear error (and a log line), and after each
 * the daemon still lists processes and other plugins still answer.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createServer } from 'node:net'
import type { Server } from 'node:net'
import { join, resolve } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { MemweaveError } from '../src/errors/index.js'
import { loadUserPlugin, pluginHostFor } from '../src/plugins/index.js'
import { callRpc, leafError, LogLines, pluginNode, readText, SANDBOX_SKIP, waitFor } from './plugin-kit.js'
import type { TestNode } from './plugin-kit.js'

const HOSTILE = resolve('examples/plugins/hostile')
const MARKER_FILE = '/tmp/memweave-hostile-was-here'

describe('hostile plugins are contained', { skip: SANDBOX_SKIP }, () => {
  let t: TestNode
  let base: string
  let server: Server
  let connections = 0
  const log = new LogLines()
  const sleeper = spawn('sleep', ['1000'], { env: { MW_HOSTILE_TEST: '1', PATH: process.env['PATH'] ?? '/usr/bin:/bin' } })

  /** The daemon still lists, a built-in still reads, and the well-behaved plugin still answers. */
  async function stillServing(): Promise<void> {
    assert.ok((await t.client.list('os/host/processes/by-pid')).some((e) => e.name === String(sleeper.pid)))
    assert.match(await readText(t.client, `${base}/environ`), /MW_HOSTILE_TEST=1/)
    assert.match(await readText(t.client, `${base}/hello.txt`), /^hello from sleep/)
  }

  function logged(pattern: RegExp): boolean {
    return log.messages().some((m) => pattern.test(m))
  }

  before(async () => {
    t = await pluginNode({ log: log.logger() })
    base = `os/host/processes/by-pid/${sleeper.pid}`
    server = createServer((socket) => { connections++; socket.destroy() })
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
    pluginHostFor(t.node, { limits: { pingTimeoutMs: 500 } })
    await loadUserPlugin(t.node, resolve('examples/plugins/hello.mjs'))
    await loadUserPlugin(t.node, join(HOSTILE, 'escape.mjs'))
    await loadUserPlugin(t.node, join(HOSTILE, 'loop.mjs'), { callTimeoutMs: 500 })
    await loadUserPlugin(t.node, join(HOSTILE, 'alloc.mjs'), { callTimeoutMs: 10_000 })
  })

  after(async () => {
    sleeper.kill('SIGKILL')
    server.close()
    await t.client.disconnect()
    await t.node.close()
  })

  it('gives plugins an empty environment (no daemon secrets)', async () => {
    assert.equal(await readText(t.client, `${base}/env`), 'environment: {}\n')
  })

  it('refuses memory of a process the call was not granted', async () => {
    const err = await leafError(t.client, `${base}/other-process`)
    assert.equal(err.kind, 'permission')
    assert.match(err.message, /'read' of process:host\/1@0 refused: this call was granted only process:host\//)
    assert.ok(logged(/plugin 'hostile-escape' refused: 'read' of process:host\/1@0/))
    await stillServing()
  })

  it('refuses a capability token whose call has ended', async () => {
    assert.equal(await readText(t.client, `${base}/remember`), 'remembered\n')
    const err = await leafError(t.client, `${base}/stale-token`)
    assert.equal(err.kind, 'permission')
    assert.match(err.message, /capability token is not valid/)
    assert.ok(logged(/hostile-escape' refused: 'read' with a capability token that is not valid/))
    await stillServing()
  })

  it('refuses memory writes from a plugin that did not ask for them', async () => {
    const err = await leafError(t.client, `${base}/write-memory`)
    assert.equal(err.kind, 'permission')
    assert.match(err.message, /writes refused: plugin 'hostile-escape' did not declare needsWrite/)
    assert.ok(logged(/hostile-escape' refused: a memory write/))
    await stillServing()
  })

  it('refuses file writes, reads outside its file, child processes, workers and internal bindings', async () => {
    const cases: [string, RegExp][] = [
      ['write-file', /the sandbox refused FileSystemWrite of \/tmp\/memweave-hostile-was-here/],
      ['read-shadow', /the sandbox refused FileSystemRead of \/etc\/shadow/],
      ['spawn', /the sandbox refused ChildProcess/],
      ['worker', /the sandbox refused WorkerThreads/],
      ['raw-binding', /the sandbox refused/],
    ]
    for (const [leaf, message] of cases) {
      const err = await leafError(t.client, `${base}/${leaf}`)
      assert.equal(err.kind, 'permission', leaf)
      assert.match(err.message, message, leaf)
      assert.ok(logged(new RegExp(`plugin 'hostile-escape' failed 'open': ${message.source}`)), `${leaf} is logged`)
    }
    assert.ok(!existsSync(MARKER_FILE), 'no file was written')
    await stillServing()
  })

  it('has no network: connecting to 127.0.0.1 fails inside, and nothing arrives', async () => {
    const address = server.address()
    assert.ok(address !== null && typeof address === 'object')
    const { port } = address
    await assert.rejects(callRpc(t.client, `${base}/connect`, port), (err: unknown) => {
      assert.ok(err instanceof MemweaveError)
      assert.match(err.message, new RegExp(`connect to 127\\.0\\.0\\.1:${port} failed: ENETUNREACH`))
      return true
    })
    assert.equal(connections, 0)
    await stillServing()
  })

  it('times out a plugin that loops forever, kills it as hung and restarts it', async () => {
    const err = await leafError(t.client, `${base}/spin`)
    assert.equal(err.kind, 'timeout')
    assert.match(err.message, /plugin 'hostile-loop' did not answer 'open' within 500 ms/)
    await waitFor('the hung plugin to be killed', () => logged(/plugin 'hostile-loop' killed: hung: it did not answer a ping within 500 ms/))
    await stillServing()
    await waitFor('the looping plugin to be back', () => pluginHostFor(t.node).plugin('hostile-loop')?.summary().restarts === 1
      && pluginHostFor(t.node).plugin('hostile-loop')?.summary().state === 'running')
    assert.equal(await readText(t.client, `${base}/loop-alive`), 'still here\n')
  })

  it('stops unbounded heap growth (V8 heap limit) and restarts the plugin', async () => {
    const err = await leafError(t.client, `${base}/heap`)
    assert.equal(err.kind, 'disconnected')
    assert.match(err.message, /plugin 'hostile-alloc' stopped while handling 'open': crashed \(signal \w+: FATAL ERROR: .*heap/)
    assert.ok(logged(/plugin 'hostile-alloc' is not running: crashed .*; restarting in \d+ s/))
    await stillServing()
    await waitFor('the plugin to be back', () => pluginHostFor(t.node).plugin('hostile-alloc')?.summary().state === 'running')
    assert.equal(await readText(t.client, `${base}/alloc-alive`), 'still here\n')
  })

  it('stops unbounded memory outside the heap (RSS watchdog or address-space limit)', async () => {
    await waitFor('the plugin to be running', () => pluginHostFor(t.node).plugin('hostile-alloc')?.summary().state === 'running')
    const err = await leafError(t.client, `${base}/buffers`)
    assert.match(err.message, /plugin 'hostile-alloc' (stopped while handling 'open': killed \(memory limit: resident \d+ MiB > 256 MiB\)|failed|: .*allocation failed)/i)
    await stillServing()
  })
})
