/**
 * A guest whose RAM is a shared file in /dev/shm (memory-backend-file,
 * share=on): the qemu connector finds that file mapping without QMP, QMP
 * (found on the command line with qmp=auto) agrees, and the same physical
 * bytes read the same through `file:PATH,volatile=true` and through
 * `qemu:name=...`, including a change made through one of them.
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import type { Connector } from '../src/connectors/index.js'
import { fileConnectorKind } from '../src/connectors/file/index.js'
import { qemuConnectorKind } from '../src/connectors/qemu/index.js'
import { physAddr, readExact, writeExact } from '../src/mem/index.js'
import { createConnector, liveGuestSkipReason, scanFor, startGuest, stopGuest, truthPatterns } from './qemu-guest-kit.js'
import type { GuestRun } from './qemu-guest-kit.js'

const RAM_BYTES = 512n * 1024n * 1024n

function skipReason(): string | false {
  if (!existsSync('/dev/shm')) return 'no /dev/shm for the guest RAM file'
  return liveGuestSkipReason()
}

describe('a guest with its RAM in /dev/shm', { skip: skipReason() }, () => {
  let guest: GuestRun
  let asFile: Connector
  let asQemu: Connector

  before(async () => {
    guest = await startGuest(['--mem-path', `/dev/shm/mw-qemu-shm-${process.pid}.ram`])
    assert.ok(guest.memPath !== null)
    asFile = await createConnector(fileConnectorKind, `${guest.memPath},format=raw,volatile=true`)
    asQemu = await createConnector(qemuConnectorKind, `name=${guest.name}`, true)
  })

  after(async () => {
    await asFile?.close()
    await asQemu?.close()
    await stopGuest(guest)
  })

  it('finds the file mapping without QMP, and QMP found via qmp=auto agrees', async () => {
    const info = asQemu.info() as Record<string, unknown>
    assert.equal(info['method'], 'maps')
    assert.equal(info['ramBytes'], Number(RAM_BYTES))
    const ranges = info['ranges'] as { guestStart: string; guestEnd: string; hostAddress: string; block: string }[]
    // The backend's id is the RAM block's name.
    assert.deepEqual(ranges.map((r) => [r.guestStart, r.guestEnd, r.block]), [['0x0', '0x20000000', 'ram']])
    const viaQmp = await createConnector(qemuConnectorKind, `name=${guest.name},qmp=auto`)
    try {
      const qmp = viaQmp.info() as Record<string, unknown>
      assert.equal(qmp['method'], 'qmp')
      assert.equal(qmp['qmpSocket'], guest.qmpSocket)
      const qmpRam = (qmp['ranges'] as { block: string }[]).filter((r) => r.block === 'ram')
      assert.deepEqual(qmpRam, ranges)
    } finally {
      await viaQmp.close()
    }
  })

  it('reads the same pattern bytes through file:...,volatile=true and qemu:name=...', async () => {
    assert.equal(asFile.mem.metadata().volatile, true)
    for (const pattern of truthPatterns(guest).filter((p) => p.kind === 'data')) {
      const bytes = Buffer.from(pattern.bytes, 'hex')
      const found = await scanFor(asFile.mem, bytes, RAM_BYTES)
      assert.equal(found.length, 1, `pattern ${pattern.tag}/data once in the RAM file`)
      const at = physAddr(found[0]!)
      assert.deepEqual(await readExact(asQemu.mem, at, 128), new Uint8Array(bytes))
      assert.deepEqual(await readExact(asQemu.mem, at, 128), await readExact(asFile.mem, at, 128))
    }
  })

  it('shows a write through the qemu connector in the shared file at once', async () => {
    const alpha = truthPatterns(guest).find((p) => p.tag === 'alpha' && p.kind === 'heap')
    assert.ok(alpha !== undefined)
    const original = Buffer.from(alpha.bytes, 'hex')
    const [found] = await scanFor(asQemu.mem, original, RAM_BYTES)
    assert.ok(found !== undefined)
    const at = physAddr(found)
    const marker = new Uint8Array(Buffer.from('SHARED-RAM-WRITE'))
    try {
      await writeExact(asQemu.mem, at, marker)
      assert.deepEqual(await readExact(asFile.mem, at, marker.length), marker)
    } finally {
      await writeExact(asQemu.mem, at, new Uint8Array(original))
    }
    assert.deepEqual(await readExact(asFile.mem, at, 128), new Uint8Array(original))
  })
})
