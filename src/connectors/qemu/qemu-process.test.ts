/**
 * Finding QEMU processes and watching one, with real processes: a child
 * whose argv[0] is "qemu-system-..." stands in for QEMU (it has no guest
 * RAM, so the maps method must refuse it clearly); the watch notices its
 * exit and a pid whose start time differs.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { pino } from 'pino'
import { MemweaveError } from '../../errors/index.js'
import { layoutFromMaps } from './maps-layout.js'
import { ProcessWatch, parseProcStat, readProcStat } from './process-watch.js'
import { assertMapped, parseProcMaps } from './proc-maps.js'
import { listQemuProcesses, selectQemuProcess } from './qemu-process.js'

const log = pino({ level: 'silent' })

/** A shell that looks like QEMU in /proc/PID/cmdline. It waits with the builtin `read`: a fork would briefly show the same command line twice. */
function fakeQemu(name: string): ChildProcess {
  return spawn('bash', ['-c', 'read -r _', '-machine', 'q35', '-m', '64M', '-name', `guest=${name},debug-threads=on`], { argv0: 'qemu-system-x86_64', stdio: ['pipe', 'ignore', 'ignore'] })
}

async function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  await new Promise((resolve) => child.once('exit', resolve))
}

describe('QEMU processes', () => {
  const name = `mw-fake-${process.pid}`
  let child: ChildProcess

  before(async () => {
    child = fakeQemu(name)
    await new Promise((resolve) => child.once('spawn', resolve))
  })
  after(async () => {
    child.kill('SIGKILL')
    await exited(child)
  })

  it('lists it and selects it by name and by pid, with clear refusals', async () => {
    const pid = child.pid!
    assert.ok((await listQemuProcesses()).some((p) => p.pid === pid && p.cmd.name === name))
    assert.equal((await selectQemuProcess({ name })).pid, pid)
    const byPid = await selectQemuProcess({ pid })
    assert.equal(byPid.cmd.machineType, 'q35')
    assert.equal(byPid.cmd.ramBytes, 64n << 20n)
    await assert.rejects(selectQemuProcess({ name: `${name}-other` }), (err: unknown) =>
      err instanceof MemweaveError && err.kind === 'not_found' && err.message.includes(`pid ${pid} '${name}'`))
    await assert.rejects(selectQemuProcess({ pid: process.pid }), (err: unknown) => err instanceof MemweaveError && err.kind === 'invalid_argument')
    await assert.rejects(selectQemuProcess({ pid: 0x3fffffff }), (err: unknown) => err instanceof MemweaveError && err.kind === 'not_found')
  })

  it('refuses the maps method when no mapping has the RAM size', async () => {
    const found = await selectQemuProcess({ pid: child.pid! })
    await assert.rejects(layoutFromMaps(found.pid, found.cmd), (err: unknown) =>
      err instanceof MemweaveError && err.kind === 'not_found' && /no mapping of exactly 67108864 bytes.*qmp=SOCKET/.test(err.message))
  })

  it('watches a process: alive, then gone once it exits; a different start time is another process', async () => {
    const victim = fakeQemu(`${name}-watch`)
    await new Promise((resolve) => victim.once('spawn', resolve))
    const pid = victim.pid!
    const stat = await readProcStat(pid)
    assert.ok(stat !== undefined)
    const reasons: string[] = []
    const watch = new ProcessWatch({ identity: { pid, startTicks: stat.startTicks }, log, onExit: (r) => reasons.push(r), pollMs: 0 })
    const impostor = new ProcessWatch({ identity: { pid, startTicks: stat.startTicks + 1n }, log, onExit: () => undefined, pollMs: 0 })
    try {
      assert.equal(await watch.check(), undefined)
      assert.match(String(await impostor.check()), /the pid now belongs to another process/)
      victim.kill('SIGKILL')
      await exited(victim)
      assert.equal(await watch.poke(), `is gone: QEMU process ${pid} exited`)
      assert.equal(await watch.check(), `is gone: QEMU process ${pid} exited`)
      assert.deepEqual(reasons, [`is gone: QEMU process ${pid} exited`])
    } finally {
      watch.close()
      impostor.close()
    }
  })
})

describe('/proc parsers', () => {
  it('reads state and start time even when comm has spaces and parentheses', () => {
    const text = '1234 (qemu (x) y) S 1 1234 1234 0 -1 4194560 1 0 0 0 5 6 0 0 20 0 3 0 987654 100 200 18446744073709551615\n'
    assert.deepEqual(parseProcStat(text), { state: 'S', startTicks: 987654n })
    assert.equal(parseProcStat('garbage'), undefined)
  })

  it('parses maps and checks that a span is mapped without holes', () => {
    const maps = parseProcMaps(readFileSync('/proc/self/maps', 'utf8'))
    assert.ok(maps.length > 5)
    const first = maps.find((m) => m.readable)!
    assertMapped(maps, first.start, first.end - first.start, 'own mapping')
    const synthetic = parseProcMaps([
      '7f0000000000-7f0000001000 rw-p 00000000 00:00 0 ',
      '7f0000001000-7f0000002000 rw-s 00000000 00:1a 42   /dev/shm/vm.ram (deleted)',
      '7f0000003000-7f0000004000 ---p 00000000 00:00 0 ',
    ].join('\n'))
    assert.equal(synthetic[1]?.path, '/dev/shm/vm.ram (deleted)')
    assert.equal(synthetic[1]?.shared, true)
    assertMapped(synthetic, 0x7f0000000800n, 0x1000n, 'two touching mappings')
    assert.throws(() => assertMapped(synthetic, 0x7f0000001000n, 0x2000n, 'across a hole'), /hole or unreadable at 0x7f0000002000/)
    assert.throws(() => assertMapped(synthetic, 0x7f0000003000n, 0x100n, 'no access'), /not fully mapped/)
  })
})
