/**
 * `memweave gdbserver` on a live QEMU guest (the qemu connector behind a
 * daemon): gdb lists the multi-threaded test program's threads, prints
 * backtraces reaching main and reads its pattern; after the process is
 * killed inside the guest, a new session ends at once with the reason.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { startDaemon } from './cli-kit.js'
import type { RunningDaemon } from './cli-kit.js'
import { gdbBatch, gdbMissing, startStub } from './gdb-kit.js'
import { fixtureRoot } from './linux-kit.js'
import { GuestShell, liveGuestSkipReason, startGuest, stopGuest } from './qemu-guest-kit.js'
import type { GuestRun } from './qemu-guest-kit.js'

const BIN = join(fixtureRoot(), 'bin')
const SKIP = liveGuestSkipReason() || gdbMissing()

interface LiveTruth {
  readonly testPids: Readonly<Record<string, number>>
  readonly processes: readonly { readonly pid: number; readonly tids?: readonly number[] }[]
  readonly patterns: readonly { readonly pid: number; readonly kind: string; readonly address: string; readonly bytes: string }[]
}

describe('gdbserver on a live guest', { skip: SKIP }, () => {
  let guest: GuestRun | undefined
  let daemon: RunningDaemon | undefined
  let dir: string
  let truth: LiveTruth

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mw-gdb-live-'))
    guest = await startGuest()
    truth = JSON.parse(readFileSync(guest.truth, 'utf8')) as LiveTruth
    daemon = await startDaemon(['--log-level', 'warn', '--listen', `unix:${join(dir, 'd.sock')}`,
      '--with', `connector vm qemu:name=${guest.name}`, '--with', 'os g -c vm linux'], { env: { MEMWEAVE_STATE_DIR: join(dir, 'state') } })
  })

  after(async () => {
    await daemon?.stop()
    await stopGuest(guest)
    await rm(dir, { recursive: true, force: true })
  })

  it('lists threads, prints backtraces reaching main, reads the pattern; a killed process ends the next session', async () => {
    const delta = truth.testPids['delta'] ?? 0
    const tids = truth.processes.find((p) => p.pid === delta)?.tids ?? []
    const mmap = truth.patterns.find((p) => p.pid === delta && p.kind === 'mmap')
    assert.ok(mmap !== undefined && tids.length === 3)
    const socket = `unix:${join(dir, 'd.sock')}`
    const stub = await startStub(['--daemon', socket, 'gdbserver', `os/g/processes/by-pid/${delta}`])
    try {
      const out = await gdbBatch(join(BIN, 'mw-pattern2'), [`target remote ${stub.address}`, 'info threads', 'thread apply all bt', `x/s ${mmap.address}`])
      for (const tid of tids) assert.match(out, new RegExp(`Thread ${tid} `), out)
      assert.match(out, /in pause \(\)\n#1 [^\n]* in main \(\)/, out)
      assert.ok(out.includes(Buffer.from(mmap.bytes, 'hex').toString('latin1').slice(0, 60)), out)
      // Gone from the guest: the next stop of a new session says so, and the stub ends.
      const shell = await GuestShell.connect(guest?.consoleSocket ?? '')
      try {
        await shell.run(`kill -9 ${delta}`)
      } finally {
        shell.close()
      }
      const after = await gdbBatch(join(BIN, 'mw-pattern2'), [`target remote ${stub.address}`, 'info threads'])
      assert.match(after, /memweave: the process went away|Remote connection closed|exited/, after)
      const [code] = await stub.exited
      assert.equal(code, 1)
      assert.match(stub.stderr(), /the process went away/)
    } finally {
      stub.child.kill('SIGTERM')
    }
  })
})
