/**
 * A live guest: QEMU with its RAM in a shared file, read through the file
 * connector in volatile mode, so there are no ELF notes and the page-table
 * root comes from a scan. A process started from the guest's shell shows up
 * after refresh(); once it has exited, a handle to it goes stale.
 */
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { MemweaveError } from '../src/errors/index.js'
import type { LocalTreeClient } from '../src/net/index.js'
import type { OsInstance } from '../src/os/index.js'
import { linuxFixtures, NO_FIXTURES_REASON } from './linux-kit.js'
import type { TruthProcess } from './linux-kit.js'
import { GuestShell, startGuest, stopGuest, until } from './qemu-guest-kit.js'
import type { GuestRun } from './qemu-guest-kit.js'
import { openOsNode } from './tree-kit.js'
import type { OsNode } from './tree-kit.js'

function skipReason(): string | false {
  if (process.env['MEMWEAVE_SKIP_LIVE'] === '1') return 'MEMWEAVE_SKIP_LIVE=1'
  if (linuxFixtures().length === 0) return NO_FIXTURES_REASON
  if (!existsSync('/dev/shm')) return 'no /dev/shm for the guest RAM file'
  return false
}


describe('a live linux guest (RAM file, volatile)', { skip: skipReason() }, () => {
  let guest: GuestRun
  let live: OsNode | undefined
  let client: LocalTreeClient
  let os: OsInstance
  let shell: GuestShell

  before(async () => {
    guest = await startGuest(['--mem-path', `/dev/shm/mw-linux-live-${process.pid}.ram`])
    live = await openOsNode({ connector: `ram file:${guest.memPath},format=raw,volatile=true`, os: 'live -c ram linux' })
    client = live.client
    os = live.os
    shell = await GuestShell.connect(guest.consoleSocket)
  })

  after(async () => {
    shell?.close()
    await live?.close()
    await stopGuest(guest)
  })

  it('finds the kernel without notes and lists the guest processes', async () => {
    const info = await os.info()
    assert.match(String(info['dtbSource']), /physical memory scan/)
    const truth = JSON.parse(readFileSync(guest.truth, 'utf8')) as { processes: TruthProcess[] }
    const listed = new Map((await os.processes()).map((p) => [p.pid, p.name]))
    for (const p of truth.processes) assert.equal(listed.get(p.pid), p.name, `pid ${p.pid}`)
  })

  it('shows a new process after refresh and makes its handle stale once it exits', async () => {
    const pid = Number((await shell.run('sleep 777 & echo PID=$!')).match(/PID=(\d+)/)?.[1])
    assert.ok(pid > 0)
    const sleeper = await until(`pid ${pid} as 'sleep'`, async () => {
      os.refresh()
      const process = await os.process(pid)
      const info = await process?.info()
      return info?.name === 'sleep' && info.cmdline.length === 2 ? info : undefined
    })
    assert.deepEqual(sleeper.cmdline, ['sleep', '777'])
    const opened = await client.open(`os/live/processes/by-pid/${pid}/info`)
    try {
      const [first] = await client.read(opened.handle, [{ addr: 0n, length: 4096 }])
      assert.ok(first?.ok)
      await shell.run(`kill ${pid}; wait ${pid}`)
      await until(`pid ${pid} to leave the task list`, async () => {
        os.refresh()
        return (await os.processes()).some((p) => p.pid === pid) ? undefined : true
      })
      await assert.rejects(client.read(opened.handle, [{ addr: 0n, length: 16 }]),
        (err: unknown) => err instanceof MemweaveError && err.kind === 'stale' && /process \d+ \(sleep\) has exited/.test(err.message))
    } finally {
      await client.close(opened.handle).catch((err: unknown) => assert.ok(err instanceof MemweaveError && err.kind === 'stale'))
    }
  })
})
