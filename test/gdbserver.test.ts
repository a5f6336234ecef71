/**
 * `memweave gdbserver` driven by the real gdb (`gdb -batch`, `target remote`)
 * against a guest dump served by a daemon, directly and through a peer:
 * the pattern through memory reads, every thread listed, backtraces
 * reaching main, the auxiliary vector; writes refused without
 * --allow-write, memory held exclusively with it; and a process that goes
 * away mid-session ending it with a clear message on both sides.
 */
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { connectClient } from '../src/net/index.js'
import { CLI_MAIN, REPO_ROOT, runCli, startDaemon } from './cli-kit.js'
import type { RunningDaemon } from './cli-kit.js'
import { gdbBatch, gdbMissing, startStub } from './gdb-kit.js'
import { fixtureRoot, linuxFixtures, NO_FIXTURES_REASON } from './linux-kit.js'
import type { Truth } from './linux-kit.js'

const FIXTURE = linuxFixtures().find((f) => f.variant === 'plain') ?? linuxFixtures()[0]
const BIN = join(fixtureRoot(), 'bin')
const SKIP = FIXTURE === undefined ? NO_FIXTURES_REASON
  : gdbMissing() || (!existsSync(join(BIN, 'mw-pattern2')) ? `no test binaries in ${BIN}` : false)

describe('gdbserver: gdb on a guest process through target remote', { skip: SKIP }, () => {
  let dir: string
  let c: RunningDaemon
  let b: RunningDaemon
  const truth = FIXTURE?.truth
  const delta = truth?.testPids['delta'] ?? 0
  const tids = (truth?.processes.find((p) => p.pid === delta) as { tids?: number[] } | undefined)?.tids ?? []
  const mmap = truth?.patterns.find((p) => p.pid === delta && p.kind === 'mmap')
  const cSock = (): string => `unix:${join(dir, 'c.sock')}`
  const bSock = (): string => `unix:${join(dir, 'b.sock')}`

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mw-gdbserver-'))
    c = await startDaemon(['--log-level', 'warn', '--listen', cSock(), '--with', `connector dump file:${FIXTURE?.dump ?? ''}`, '--with', 'os guest -c dump linux'],
      { env: { MEMWEAVE_STATE_DIR: join(dir, 'state-c') } })
    b = await startDaemon(['--log-level', 'warn', '--listen', bSock(), '--connect', `c=${cSock()},backoff-max-ms=500`], { env: { MEMWEAVE_STATE_DIR: join(dir, 'state-b') } })
  })

  after(async () => {
    await b?.stop()
    await c?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  function checkSession(out: string): void {
    for (const tid of tids) assert.match(out, new RegExp(`Thread ${tid} `), out)
    assert.match(out, /Thread \d+ "mw-worker-1"/)
    assert.match(out, /in pause \(\)\n#1 [^\n]* in main \(\)/, out)
    assert.match(out, /in worker_main \(\)/)
    assert.ok(mmap !== undefined)
    assert.ok(out.includes(Buffer.from(mmap.bytes, 'hex').toString('latin1').slice(0, 60)), `pattern read through m packets:\n${out}`)
    assert.match(out, /AT_ENTRY\s+Entry point of program\s+0x[0-9a-f]+/)
  }

  const session = (address: string): string[] => [
    `target remote ${address}`, 'info threads', 'thread apply all bt', `x/s ${mmap?.address ?? '0'}`, 'info auxv', 'info registers rip',
  ]

  it('against a dump: threads, backtraces reaching main, memory and auxv', async () => {
    const stub = await startStub(['--daemon', cSock(), 'gdbserver', `os/guest/processes/by-pid/${delta}`])
    try {
      checkSession(await gdbBatch(join(BIN, 'mw-pattern2'), session(stub.address)))
      const out = await gdbBatch(join(BIN, 'mw-pattern2'), [`target remote ${stub.address}`, `set {char}${mmap?.address ?? '0'} = 65`])
      assert.match(out, /Cannot access memory at address/, 'writes are refused without --allow-write')
    } finally {
      stub.child.kill('SIGTERM')
      await stub.exited
    }
  })

  it('through a peer: the same session on c/os/guest/… of daemon b', async () => {
    for (let i = 0; i < 100; i++) {
      if ((await runCli(['--daemon', bSock(), 'ls', 'c/os/guest'])).code === 0) break
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    const stub = await startStub(['--daemon', bSock(), 'gdbserver', `c/os/guest/processes/by-pid/${delta}`])
    try {
      checkSession(await gdbBatch(join(BIN, 'mw-pattern2'), session(stub.address)))
    } finally {
      stub.child.kill('SIGTERM')
      await stub.exited
    }
  })

  it('refuses to listen beyond loopback', async () => {
    const result = await runCli(['--daemon', cSock(), 'gdbserver', `os/guest/processes/by-pid/${delta}`, '--listen', '0.0.0.0:0'])
    assert.equal(result.code, 1)
    assert.match(result.stderr, /loopback only/)
  })

  it('with --allow-write the stub holds the process memory exclusively, until it ends', async () => {
    const mem = `os/guest/processes/by-pid/${delta}/mem`
    const stub = await startStub(['--daemon', cSock(), '--allow-write', 'gdbserver', `os/guest/processes/by-pid/${delta}`])
    try {
      const refused = await runCli(['--daemon', cSock(), 'read', mem, '--offset', mmap?.address ?? '0', '--length', '4'])
      assert.equal(refused.code, 1)
      assert.match(refused.stderr, /held exclusively by conn-\d+ \(cli, unix socket\)/)
    } finally {
      stub.child.kill('SIGTERM')
      await stub.exited
    }
    const reader = await connectClient(cSock(), { name: 'test-after-stub' })
    try {
      // The stub's connection is gone; its handles are dropped just after.
      for (let attempt = 0; ; attempt++) {
        const opened = await reader.open(mem).catch((err: unknown) => { if (attempt > 200) throw err; return undefined })
        if (opened !== undefined) { await reader.close(opened.handle); break }
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    } finally {
      await reader.disconnect()
    }
  })

  it('a process that goes away ends the session: gdb hears why, the stub exits 1 naming the reason', async () => {
    const stub = await startStub(['--daemon', cSock(), 'gdbserver', `os/guest/processes/by-pid/${delta}`])
    const remove = `${process.execPath} --import tsx ${join(REPO_ROOT, CLI_MAIN)} --daemon ${cSock()} os rm -f guest`
    const out = await gdbBatch(join(BIN, 'mw-pattern2'), [`target remote ${stub.address}`, 'info threads', `shell ${remove}`, 'continue'])
    assert.match(out, /memweave: the process went away: /, out)
    assert.match(out, /\[Inferior 1 \([^)]*\) exited normally\]/, out)
    const [code] = await stub.exited
    assert.equal(code, 1)
    assert.match(stub.stderr(), /gdbserver ended: the process went away/)
  })
})

const ARM64 = linuxFixtures().find((f) => f.truth.arch === 'aarch64' && f.variant === 'plain')
const ARM64_BIN = join(fixtureRoot(), 'bin-arm64')
const ARM64_SKIP = ARM64 === undefined ? `no arm64 guest dump (${NO_FIXTURES_REASON})`
  : gdbMissing('aarch64') || (!existsSync(join(ARM64_BIN, 'mw-pattern2')) ? `no arm64 test binaries in ${ARM64_BIN}` : false)

describe('gdbserver: gdb-multiarch on an arm64 guest process (aarch64 target description)', { skip: ARM64_SKIP }, () => {
  let dir: string
  let daemon: RunningDaemon
  const truth = ARM64?.truth
  const delta = truth?.testPids['delta'] ?? 0
  const tids = (truth?.processes.find((p) => p.pid === delta) as { tids?: number[] } | undefined)?.tids ?? []
  const mmap = truth?.patterns.find((p) => p.pid === delta && p.kind === 'mmap')
  const sock = (): string => `unix:${join(dir, 'a.sock')}`

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mw-gdbserver-arm64-'))
    daemon = await startDaemon(['--log-level', 'warn', '--listen', sock(), '--with', `connector dump file:${ARM64?.dump ?? ''}`, '--with', 'os guest -c dump linux'],
      { env: { MEMWEAVE_STATE_DIR: join(dir, 'state') } })
  })

  after(async () => {
    await daemon?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('target remote: aarch64 registers, every thread, backtraces reaching main and worker_main, memory, TLS and V registers', async () => {
    const stub = await startStub(['--daemon', sock(), 'gdbserver', `os/guest/processes/by-pid/${delta}`])
    try {
      const out = await gdbBatch(join(ARM64_BIN, 'mw-pattern2'), [`target remote ${stub.address}`, 'show architecture', 'info threads', 'thread apply all bt',
        `x/s ${mmap?.address ?? '0'}`, 'info registers pc cpsr', 'p/x $tpidr', 'p/x $v31.q.u', 'p $fpcr', 'set $x0 = 5'], { target: 'aarch64' })
      assert.match(out, /currently "aarch64"/, out)
      for (const tid of tids) assert.match(out, new RegExp(`Thread ${tid} `), out)
      assert.match(out, /Thread \d+ "mw-worker-1"/, out)
      assert.match(out, /in pause \(\)\n#1 [^\n]* in main \(\)/, out)
      assert.match(out, /in worker_main \(\)[\s\S]*in start_thread \(\)/, out)
      assert.ok(mmap !== undefined)
      assert.ok(out.includes(Buffer.from(mmap.bytes, 'hex').toString('latin1').slice(0, 60)), `pattern read through m packets:\n${out}`)
      assert.match(out, /^pc\s+0x[0-9a-f]+\s+0x[0-9a-f]+ <pause\+\d+>$/m, out)
      assert.match(out, /^cpsr\s+0x[0-9a-f]+/m, out)
      assert.match(out, /^\$1 = 0x[0-9a-f]{4,}$/m, 'tpidr (the thread pointer) is set')
      assert.match(out, /^\$2 = \{0x[0-9a-f]+\}$/m, 'the V registers come from user_fpsimd_state')
      assert.doesNotMatch(out, /<unavailable>/, out)
      assert.match(out, /Could not write register "x0"; remote failure reply 'E\.memweave: register writes are not supported/, out)
    } finally {
      stub.child.kill('SIGTERM')
      await stub.exited
    }
  })
})

const XSAVE_DUMP = join(fixtureRoot(), 'xsave', 'dump.elf')
const XSAVE_SKIP = !existsSync(XSAVE_DUMP) ? `no XSAVE guest dump (run: bash scripts/fixtures/build-xsave-dump.sh)` : SKIP

describe('gdbserver: AVX registers of a -cpu max guest (org.gnu.gdb.i386.avx from the XSAVE area)', { skip: XSAVE_SKIP }, () => {
  let dir: string
  let daemon: RunningDaemon
  const delta = XSAVE_SKIP === false ? (JSON.parse(readFileSync(join(fixtureRoot(), 'xsave', 'truth.json'), 'utf8')) as Truth).testPids['delta'] ?? 0 : 0
  const sock = (): string => `unix:${join(dir, 'x.sock')}`

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mw-gdbserver-avx-'))
    daemon = await startDaemon(['--log-level', 'warn', '--listen', sock(), '--with', `connector dump file:${XSAVE_DUMP}`, '--with', 'os guest -c dump linux'],
      { env: { MEMWEAVE_STATE_DIR: join(dir, 'state') } })
  })

  after(async () => {
    await daemon?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('target remote: ymm registers whose low halves are the xmm registers, and bt still reaches main', async () => {
    const stub = await startStub(['--daemon', sock(), 'gdbserver', `os/guest/processes/by-pid/${delta}`])
    try {
      const out = await gdbBatch(join(BIN, 'mw-pattern2'), [`target remote ${stub.address}`, 'bt', 'p/x $ymm0.v2_int128[0]', 'p/x $xmm0', 'info registers ymm15'])
      assert.match(out, /in pause \(\)\n#1 [^\n]* in main \(\)/, out)
      const ymmLow = /^\$1 = (0x[0-9a-f]+)$/m.exec(out)?.[1]
      assert.ok(ymmLow !== undefined && ymmLow !== '0x0', out)
      assert.match(out, new RegExp(`^\\$2 = ${ymmLow}$`, 'm'), 'ymm0\'s low half is xmm0')
      assert.match(out, /^ymm15\s+\{/m, out)
    } finally {
      stub.child.kill('SIGTERM')
      await stub.exited
    }
  })
})
