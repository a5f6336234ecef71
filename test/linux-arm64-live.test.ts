/**
 * A live arm64 guest through the qemu connector: Debian's arm64 kernel of the
 * fixture matrix booted under qemu-system-aarch64 (virt machine, TCG, RAM at
 * 1 GiB) by run-guest.sh, attached as `qemu:name=…` (guest RAM read through
 * /proc/PID/mem), opened as `linux` with no symbols: the architecture comes
 * from the QEMU binary, the page-table root from a scan of the kernel image.
 * The process list holds the test programs with the pids the guest printed,
 * and every pattern reads back through the process's memory.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { after, before, describe, it } from 'node:test'
import { virtAddr } from '../src/mem/index.js'
import { BUILTIN_CONNECTOR_KINDS, BUILTIN_MAPPINGS, BUILTIN_OS_KINDS, MemweaveNode } from '../src/node/index.js'
import type { OsInstance } from '../src/os/index.js'
import { linuxFixtures, silentLog } from './linux-kit.js'
import { liveGuestSkipReason } from './qemu-guest-kit.js'
import type { GuestRun, TruthPattern } from './qemu-guest-kit.js'

const run = promisify(execFile)
const SCRIPTS = resolve(import.meta.dirname, '..', 'scripts', 'fixtures')
const ARM = linuxFixtures().find((f) => f.truth.arch === 'aarch64')

function skipReason(): string | false {
  const live = liveGuestSkipReason()
  if (live !== false) return live
  if (ARM === undefined) return 'no arm64 fixture in the cache (build-guests.sh with an arm64 kernel)'
  return existsSync('/usr/bin/qemu-system-aarch64') ? false : 'qemu-system-aarch64 is not installed'
}

describe('linux on a live arm64 QEMU guest, through the qemu connector', { skip: skipReason() }, () => {
  let guest: GuestRun
  let node: MemweaveNode
  let os: OsInstance
  let truth: { testPids: Record<string, number>; patterns: TruthPattern[]; release: string }

  before(async () => {
    const { stdout } = await run('bash', [join(SCRIPTS, 'run-guest.sh'), ARM!.release], { maxBuffer: 1 << 20 })
    guest = JSON.parse(stdout) as GuestRun
    truth = JSON.parse(readFileSync(guest.truth, 'utf8')) as typeof truth
    node = new MemweaveNode({ allowWrite: false, log: silentLog, connectorKinds: BUILTIN_CONNECTOR_KINDS, osKinds: BUILTIN_OS_KINDS, mappings: BUILTIN_MAPPINGS })
    await node.newConnector(`vm qemu:name=${guest.name}`)
    await node.newOs('g -c vm linux')
    const record = node.store.oses.get('g')
    assert.ok(record !== undefined)
    os = record.os
  })

  after(async () => {
    await node?.close()
    if (guest !== undefined) {
      await run('bash', [join(SCRIPTS, 'stop-guest.sh'), guest.runDir])
      if (process.env['MEMWEAVE_KEEP_RUNS'] !== '1') rmSync(guest.runDir, { recursive: true, force: true })
    }
  })

  it('opens as aarch64 from the QEMU binary and names the release the guest runs', async () => {
    const info = await os.info()
    assert.equal(info['arch'], 'aarch64')
    assert.equal(info['release'], truth.release)
    assert.match(String(info['archSource']), /QEMU binary/)
  })

  it('lists the test programs with the pids the guest printed and reads every pattern through process memory', async () => {
    const refs = await os.processes()
    for (const [tag, pid] of Object.entries(truth.testPids)) assert.ok(refs.some((p) => p.pid === pid), `${tag} (pid ${pid}) is listed`)
    for (const pattern of truth.patterns) {
      const process = await os.process(pattern.pid)
      assert.ok(process !== undefined, `pid ${pattern.pid}`)
      const [read] = await process.mem.read([{ addr: virtAddr(BigInt(pattern.address)), length: pattern.bytes.length / 2 }])
      assert.ok(read?.ok, `pattern ${pattern.tag}/${pattern.kind}`)
      assert.equal(Buffer.from(read.data).toString('hex'), pattern.bytes)
    }
  })
})
