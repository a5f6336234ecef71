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
import { existsSync, readFileSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { virtAddr } from '../src/mem/index.js'
import type { OsInstance } from '../src/os/index.js'
import { linuxFixtures } from './linux-kit.js'
import { liveGuestSkipReason, startGuest, stopGuest } from './qemu-guest-kit.js'
import type { GuestRun, TruthPattern } from './qemu-guest-kit.js'
import { openOsNode } from './tree-kit.js'
import type { OsNode } from './tree-kit.js'

const ARM = linuxFixtures().find((f) => f.truth.arch === 'aarch64')

function skipReason(): string | false {
  const live = liveGuestSkipReason()
  if (live !== false) return live
  if (ARM === undefined) return 'no arm64 fixture in the cache (build-guests.sh with an arm64 kernel)'
  return existsSync('/usr/bin/qemu-system-aarch64') ? false : 'qemu-system-aarch64 is not installed'
}

describe('linux on a live arm64 QEMU guest, through the qemu connector', { skip: skipReason() }, () => {
  let guest: GuestRun | undefined
  let vm: OsNode | undefined
  let os: OsInstance
  let truth: { testPids: Record<string, number>; patterns: TruthPattern[]; release: string }

  before(async () => {
    guest = await startGuest([], ARM!.release)
    truth = JSON.parse(readFileSync(guest.truth, 'utf8')) as typeof truth
    vm = await openOsNode({ connector: `vm qemu:name=${guest.name}`, os: 'g -c vm linux' })
    os = vm.os
  })

  after(async () => {
    await vm?.close()
    await stopGuest(guest)
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
