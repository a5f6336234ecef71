/**
 * The qemu connector on a real QEMU (the fixture guest, anonymous RAM):
 * attach by name, pid and bare NAME, with and without QMP; the layouts of
 * both methods agree with QEMU's; truth patterns read back at their
 * physical addresses; a pattern written by a program started later shows
 * up live; writes reach the guest; killing QEMU makes handles stale.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readdir, readFile } from 'node:fs/promises'
import { after, before, describe, it } from 'node:test'
import type { Connector } from '../src/connectors/index.js'
import { qemuConnectorKind } from '../src/connectors/qemu/index.js'
import { MemweaveError } from '../src/errors/index.js'
import { physAddr, readExact, writeExact } from '../src/mem/index.js'
import { LocalTreeClient } from '../src/net/local-client.js'
import { BUILTIN_MAPPINGS, MemweaveNode } from '../src/node/index.js'
import { GuestShell, createConnector, liveGuestSkipReason, parseOd, scanFor, silentLog, startGuest, stopGuest, truthPatterns, until } from './qemu-guest-kit.js'
import type { GuestRun } from './qemu-guest-kit.js'
import { isKind } from './error-kit.js'

const RAM_BYTES = 512 * 1024 * 1024

function rangesOf(connector: Connector): { guestStart: string; guestEnd: string; hostAddress: string; block: string; kind: string }[] {
  const info = connector.info()
  assert.ok(!(info instanceof Promise))
  return info['ranges'] as { guestStart: string; guestEnd: string; hostAddress: string; block: string; kind: string }[]
}

describe('qemu connector on a live guest', { skip: liveGuestSkipReason() }, () => {
  let guest: GuestRun
  let shell: GuestShell
  let viaMaps: Connector
  let viaQmp: Connector

  before(async () => {
    guest = await startGuest()
    shell = await GuestShell.connect(guest.consoleSocket)
    viaMaps = await createConnector(qemuConnectorKind, `name=${guest.name}`)
    viaQmp = await createConnector(qemuConnectorKind, `pid=${guest.pid},qmp=${guest.qmpSocket}`)
  })

  after(async () => {
    shell?.close()
    await viaMaps?.close()
    await viaQmp?.close()
    await stopGuest(guest)
  })

  it('reads the layout from the maps and from QMP, and both agree', () => {
    const maps = viaMaps.info() as Record<string, unknown>
    const qmp = viaQmp.info() as Record<string, unknown>
    assert.equal(maps['method'], 'maps')
    assert.equal(qmp['method'], 'qmp')
    for (const info of [maps, qmp]) {
      assert.equal(info['pid'], guest.pid)
      assert.equal(info['name'], guest.name)
      assert.equal(info['ramBytes'], RAM_BYTES)
      assert.equal(info['volatile'], true)
      assert.equal(info['readonly'], true)
    }
    // q35 with 512 MiB: all RAM below 2 GiB, in one block.
    const mapsRanges = rangesOf(viaMaps)
    assert.deepEqual(mapsRanges.map((r) => [r.guestStart, r.guestEnd, r.block]), [['0x0', '0x20000000', 'pc.ram']])
    const qmpRam = rangesOf(viaQmp).filter((r) => r.block === 'pc.ram')
    assert.deepEqual(qmpRam, mapsRanges)
    // QMP also knows the BIOS ROM just below 4 GiB.
    assert.ok(rangesOf(viaQmp).some((r) => r.block === 'pc.bios' && r.guestEnd === '0x100000000' && r.kind === 'rom'))
    assert.equal(viaMaps.mem.metadata().volatile, true)
    assert.equal(viaMaps.mem.metadata().maxAddress, BigInt(RAM_BYTES))
  })

  it('reads the vCPU control registers over QMP only (one CPU, 4-level paging), as a hint for the OS layer', () => {
    assert.equal(viaMaps.hints.cpuRegisters, undefined)
    const cpus = viaQmp.hints.cpuRegisters ?? []
    assert.deepEqual(cpus.map((c) => c.cpu), [0])
    // Paging is on: a page-aligned table address below the top of RAM (PCID bits aside), PAE set, LA57 clear.
    const table = cpus[0]!.cr3 & ~0xfffn & ~(1n << 63n)
    assert.ok(table > 0n && table < BigInt(RAM_BYTES), `CR3 ${cpus[0]!.cr3.toString(16)}`)
    assert.equal((cpus[0]!.cr4 ?? 0n) & (1n << 5n), 1n << 5n)
    assert.equal((cpus[0]!.cr4 ?? 0n) & (1n << 12n), 0n)
    assert.equal((viaQmp.info() as Record<string, unknown>)['cpuRegisters'], 1)
  })

  it('finds the guest by bare NAME and refuses wrong selections with what is running', async () => {
    const byTarget = await createConnector(qemuConnectorKind, guest.name)
    try {
      assert.equal((byTarget.info() as Record<string, unknown>)['pid'], guest.pid)
    } finally {
      await byTarget.close()
    }
    await assert.rejects(createConnector(qemuConnectorKind, 'name=no-such-guest'), isKind('not_found', new RegExp(`no QEMU process has -name 'no-such-guest' \\(running: .*pid ${guest.pid} '${guest.name}'`)))
    await assert.rejects(createConnector(qemuConnectorKind, `pid=${process.pid}`), isKind('invalid_argument', /is not a QEMU process/))
    await assert.rejects(createConnector(qemuConnectorKind, `pid=${guest.pid},name=other`), isKind('invalid_argument', /has -name/))
    await assert.rejects(createConnector(qemuConnectorKind, `pid=${guest.pid},qmp=/nonexistent/qmp.sock`), isKind('not_found', /QMP socket/))
    await assert.rejects(createConnector(qemuConnectorKind, `name=${guest.name},bogus=1`), isKind('invalid_argument', /unknown argument 'bogus'/))
    // A QMP socket that belongs to another QEMU is noticed: by its -name, or by addresses this process does not map.
    for (const [extra, kind, pattern] of [[['-name', 'impostor'], 'invalid_argument', /belongs to guest/], [[], 'malformed', /is the socket this QEMU's\?/]] as const) {
      // Waits in the builtin `read` (no fork, so its command line shows up once).
      const impostor = spawn('bash', ['-c', 'read -r _', '-machine', 'q35', '-m', '512M', ...extra], { argv0: 'qemu-system-x86_64', stdio: ['pipe', 'ignore', 'ignore'] })
      try {
        await new Promise((ok) => impostor.once('spawn', ok))
        await assert.rejects(createConnector(qemuConnectorKind, `pid=${impostor.pid!},qmp=${guest.qmpSocket}`), isKind(kind, pattern))
      } finally {
        impostor.kill('SIGKILL')
      }
    }
    // Without a selector: the one QEMU, or (other guests running) an error listing ours.
    try {
      const only = await createConnector(qemuConnectorKind, '')
      assert.equal((only.info() as Record<string, unknown>)['pid'], guest.pid)
      await only.close()
    } catch (err) {
      isKind('invalid_argument', new RegExp(`several QEMU processes are running \\(running: .*pid ${guest.pid}`))(err)
    }
  })

  it('reads the test programs\' patterns at their physical addresses, through both methods', async () => {
    const patterns = truthPatterns(guest).filter((p) => p.kind === 'data' || p.kind === 'heap')
    assert.ok(patterns.length >= 4)
    const first = patterns[0]!
    const bytes = Buffer.from(first.bytes, 'hex')
    const [at, ...others] = await scanFor(viaMaps.mem, bytes, BigInt(RAM_BYTES))
    assert.ok(at !== undefined, `pattern ${first.tag}/${first.kind} found in guest RAM`)
    assert.deepEqual(others, [], 'each pattern occurs once')
    assert.deepEqual(await readExact(viaQmp.mem, physAddr(at), 128), new Uint8Array(bytes))
    // One batch: the pattern, a piece across the page, and a piece past the end fail or succeed on their own.
    const results = await viaMaps.mem.read([
      { addr: physAddr(at), length: 128 },
      { addr: physAddr(at - 64n), length: 64 },
      { addr: physAddr(BigInt(RAM_BYTES) - 8n), length: 16 },
      { addr: physAddr(at + 64n), length: 64 },
    ])
    assert.ok(results[0]?.ok && results[1]?.ok && results[3]?.ok)
    assert.deepEqual(results[0].data, new Uint8Array(bytes))
    assert.deepEqual(results[3].data, new Uint8Array(bytes.subarray(64)))
    assert.ok(results[2] !== undefined && !results[2].ok && results[2].error.kind === 'out_of_bounds')
    // In the QMP layout the hole between RAM and the BIOS reads as zeros, or fails in strict mode.
    const hole = await readExact(viaQmp.mem, physAddr(0x80000000n), 16)
    assert.deepEqual(hole, new Uint8Array(16))
    const strict = await createConnector(qemuConnectorKind, `pid=${guest.pid},qmp=${guest.qmpSocket},strict=true`)
    try {
      await assert.rejects(readExact(strict.mem, physAddr(0x80000000n), 16), isKind('unmapped', /is not RAM/))
    } finally {
      await strict.close()
    }
  })

  it('sees a program started later appear in RAM, and writes reach the guest', async () => {
    const tag = `live${process.pid}`
    const needle = Buffer.from(`MEMWEAVE-PATTERN-${tag}-data-`)
    assert.deepEqual(await scanFor(viaMaps.mem, needle, BigInt(RAM_BYTES)), [], 'not there before the program starts')
    await shell.run(`/bin/mw-pattern ${tag} </dev/null >/tmp/${tag}.out 2>&1 &`)
    const out = await until('the new program to report READY', async () => {
      const text = await shell.run(`cat /tmp/${tag}.out`)
      return text.includes(`READY `) ? text : undefined
    })
    const line = /PATTERN (\d+) (0x[0-9a-f]+) \S+ data ([0-9a-f]+)/.exec(out)
    assert.ok(line !== null, 'the program printed its data pattern')
    const [, pid, virt, hex] = line
    const pattern = Buffer.from(hex!, 'hex')
    const [at, ...others] = await scanFor(viaMaps.mem, pattern, BigInt(RAM_BYTES))
    assert.ok(at !== undefined && others.length === 0, 'the new pattern is in guest RAM exactly once')
    assert.deepEqual(await readExact(viaMaps.mem, physAddr(at), 128), new Uint8Array(pattern))

    await assert.rejects(writeExact(viaMaps.mem, physAddr(at), new Uint8Array(4)), isKind('permission', /read-only/))
    const writer = await createConnector(qemuConnectorKind, `pid=${guest.pid}`, true)
    try {
      assert.equal(writer.mem.metadata().readonly, false)
      const marker = Buffer.from('WRITTEN-BY-MEMWEAVE')
      await writeExact(writer.mem, physAddr(at), new Uint8Array(marker))
      const seen = parseOd(await shell.run(`dd if=/proc/${pid!}/mem bs=128 skip=$((${virt!} / 128)) count=1 2>/dev/null | od -An -tx1 -v`))
      assert.deepEqual(Buffer.from(seen.subarray(0, marker.length)).toString(), marker.toString(), 'the guest process sees the bytes we wrote')
      assert.deepEqual(Buffer.from(seen.subarray(marker.length)), pattern.subarray(marker.length))
    } finally {
      await writer.close()
      await shell.run(`kill ${pid!}`)
    }
  })

  it('makes every handle stale with a clear error once QEMU exits', async () => {
    const node = new MemweaveNode({ allowWrite: false, log: silentLog, connectorKinds: [qemuConnectorKind], osKinds: [], mappings: BUILTIN_MAPPINGS })
    const client = new LocalTreeClient(node.tree)
    try {
      await node.newConnector(`vm qemu:pid=${guest.pid}`)
      const opened = await client.open('connector/vm/mem')
      const [before] = await client.read(opened.handle, [{ addr: 0x100000n, length: 4096 }])
      assert.ok(before?.ok)
      process.kill(guest.pid, 'SIGKILL')
      await until('QEMU and all its threads to exit', async () => {
        // Reaped (no stat), or a zombie whose other threads are gone too: until then the guest RAM is still mapped.
        const stat = await readFile(`/proc/${guest.pid}/stat`, 'utf8').catch(() => 'gone')
        if (stat === 'gone') return true
        const threads = await readdir(`/proc/${guest.pid}/task`).catch(() => [])
        return / Z /.test(stat) && threads.length <= 1 ? true : undefined
      })
      // The first read after the exit fails either as a whole (the lifetime check saw it) or per piece
      // (the read came back empty and the check then ran); from then on the handle is stale.
      const stale = new RegExp(`stale handle.*connector 'vm' is gone: QEMU process ${guest.pid} exited`)
      try {
        const [piece] = await client.read(opened.handle, [{ addr: 0x100000n, length: 16 }])
        assert.ok(piece !== undefined && !piece.ok)
        isKind('stale', stale)(piece.error)
      } catch (err) {
        isKind('stale', stale)(err)
      }
      await assert.rejects(client.read(opened.handle, [{ addr: 0x100000n, length: 16 }]), isKind('stale', stale))
      const [direct] = await viaMaps.mem.read([{ addr: physAddr(0x100000n), length: 16 }])
      assert.ok(direct !== undefined && !direct.ok)
      isKind('stale', new RegExp(`QEMU process ${guest.pid} exited`))(direct.error)
      assert.equal((viaMaps.info() as Record<string, unknown>)['stale'], true)
      await assert.rejects(client.open('connector/vm/mem'), (err: unknown) => err instanceof MemweaveError && err.kind === 'stale')
    } finally {
      await client.disconnect()
      await node.close()
    }
  })
})
