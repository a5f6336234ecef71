/**
 * The library API (src/index.ts, what `import 'memweave'` gives) on a real
 * daemon serving a real guest dump: connect() with no arguments finds the
 * daemon the way the CLI does ($MEMWEAVE_DAEMON), and the OS/process views
 * read the same processes, maps, patterns and modules the truth file records;
 * a removed OS makes a view's handle stale. The same checks as the Python
 * client's tests (python/tests/test_daemon.py).
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { connect, openConnector, openOs, osView, parseMaps, readJson, writeLine } from '../src/index.js'
import type { ProtocolClient } from '../src/index.js'
import { startDaemon } from './cli-kit.js'
import type { RunningDaemon } from './cli-kit.js'
import { linuxFixtures, NO_FIXTURES_REASON } from './linux-kit.js'
import { isKind } from './error-kit.js'

const fixture = linuxFixtures().find((f) => f.variant === 'plain') ?? linuxFixtures()[0]

describe('the library API against a daemon', { skip: fixture === undefined ? NO_FIXTURES_REASON : false }, () => {
  let dir = ''
  let daemon: RunningDaemon | undefined
  let client: ProtocolClient

  before(async () => {
    assert.ok(fixture !== undefined)
    dir = await mkdtemp(join(tmpdir(), 'memweave-library-'))
    // --file-root: the test creates a second connector on the fixture through the protocol.
    daemon = await startDaemon(['--listen', `unix:${join(dir, 'mw.sock')}`, '--file-root', dirname(fixture.dump), '--with', `connector dump file:${fixture.dump}`, '--with', 'os g -c dump linux'])
    const saved = process.env.MEMWEAVE_DAEMON
    process.env.MEMWEAVE_DAEMON = join(dir, 'mw.sock')
    try {
      client = await connect()
    } finally {
      if (saved === undefined) delete process.env.MEMWEAVE_DAEMON
      else process.env.MEMWEAVE_DAEMON = saved
    }
  })

  after(async () => {
    await client?.disconnect()
    await daemon?.stop()
    if (dir !== '') await rm(dir, { recursive: true, force: true })
  })

  it('lists the guest processes with their names', async () => {
    assert.ok(fixture !== undefined)
    const listed = new Map((await osView(client, 'g').processes()).map((p) => [p.pid, p.name]))
    for (const p of fixture.truth.processes) assert.equal(listed.get(p.pid), p.name, `pid ${p.pid}`)
    assert.equal((await osView(client, 'g').info()).kind, 'linux')
  })

  it('reads every memory pattern through process views', async () => {
    assert.ok(fixture !== undefined)
    for (const pattern of fixture.truth.patterns) {
      const proc = osView(client, 'g').process(pattern.pid)
      try {
        const data = await proc.read(BigInt(pattern.address), pattern.length)
        assert.equal(Buffer.from(data).toString('hex'), pattern.bytes, `${pattern.kind} of pid ${pattern.pid}`)
      } finally {
        await proc.close()
      }
    }
  })

  it('gives maps as the guest has them, modules at their mapped base, and per-piece errors', async () => {
    assert.ok(fixture !== undefined)
    for (const [pid, text] of Object.entries(fixture.truth.maps)) {
      const proc = osView(client, 'g').process(Number(pid))
      try {
        assert.deepEqual(await proc.maps(), parseMaps(text), `maps of ${pid}`)
        const libc = parseMaps(text).filter((m) => m.path.endsWith('/libc.so.6'))
        if (libc.length > 0) {
          const module = await proc.module('libc.so.6')
          assert.equal(module.base, libc.reduce((min, m) => (m.start < min ? m.start : min), libc[0]?.start ?? 0n))
          assert.equal(Buffer.from(await proc.read(module.base, 4)).toString('latin1'), '\x7fELF')
        }
        const [mapped, unmapped] = await proc.readMany([{ addr: parseMaps(text)[0]?.start ?? 0n, length: 4 }, { addr: 0x10n, length: 4 }])
        assert.ok(mapped?.ok === true)
        assert.ok(unmapped?.ok === false && unmapped.error.kind === 'unmapped')
        await assert.rejects(proc.read(0x10n, 4), isKind('unmapped'))
      } finally {
        await proc.close()
      }
    }
  })

  it('creates objects with control lines, and a removed OS makes its views stale', async () => {
    assert.ok(fixture !== undefined)
    const pattern = fixture.truth.patterns.find((p) => p.kind === 'data')
    assert.ok(pattern !== undefined)
    await openConnector(client, 'lib-dump', `file:${fixture.dump}`)
    try {
      await openOs(client, 'lib-g', 'linux', { connector: 'lib-dump' })
      const proc = osView(client, 'lib-g').process(pattern.pid)
      assert.equal(Buffer.from(await proc.read(BigInt(pattern.address), 8)).toString('hex'), pattern.bytes.slice(0, 16))
      await writeLine(client, 'os/rm', 'lib-g -f')
      await assert.rejects(proc.read(BigInt(pattern.address), 8), isKind('stale'))
      await proc.close()
      await assert.rejects(openOs(client, 'lib-bad', 'linux', { connector: 'no-such-connector' }), isKind('not_found'))
    } finally {
      await writeLine(client, 'connector/rm', 'lib-dump -f')
    }
    assert.ok(!((await readJson(client, 'sys/info')) as { connectors: string[] }).connectors.includes('lib-dump'))
  })
})
