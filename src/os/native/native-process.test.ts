import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readdir, readFile } from 'node:fs/promises'
import { test } from 'node:test'
import { pino } from 'pino'
import { virtAddr } from '../../mem/index.js'
import { Lifetime, parseKindArgs } from '../../tree/index.js'
import { FdPool } from './fd-pool.js'
import { nativeOsKind } from './native-kind.js'
import { NativeOs } from './native-os.js'
import { processStaleCheck } from './native-process.js'
import { parseProcStat } from './proc-stat.js'

async function openNative(args = ''): Promise<NativeOs> {
  const os = await nativeOsKind.create(parseKindArgs(args), undefined, {
    allowWrite: false, log: pino({ level: 'silent' }), parentLifetime: new Lifetime('test'), description: "os 'test'",
  })
  assert.ok(os instanceof NativeOs)
  return os
}

async function spawnSleep(): Promise<{ pid: number; kill: () => Promise<void> }> {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' })
  await new Promise<void>((resolve, reject) => { child.once('spawn', resolve); child.once('error', reject) })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  return { pid: child.pid ?? -1, kill: async () => { child.kill('SIGKILL'); await exited } }
}

test('the stale check tells a live process, a different start time, and an exit apart', async () => {
  const pool = new FdPool(8)
  const child = await spawnSleep()
  const start = parseProcStat(await readFile(`/proc/${child.pid}/stat`, 'utf8')).startTime
  const same = processStaleCheck(child.pid, start, pool)
  const other = processStaleCheck(child.pid, start + 1n, pool)
  assert.equal(await same(), undefined)
  assert.equal(await same(), undefined) // now through the pinned /proc/PID/stat
  assert.equal(await other(), `is gone: pid ${child.pid} now belongs to another process (start time changed)`)
  await child.kill()
  assert.equal(await same(), 'has exited')
  await pool.closeAll()
})

test('a process object goes stale with a reason, and a new lookup of a vanished pid finds nothing', async () => {
  const os = await openNative()
  const child = await spawnSleep()
  const proc = await os.process(child.pid)
  assert.ok(proc !== undefined)
  assert.equal(proc.ref.name, 'sleep')
  assert.equal(await os.process(child.pid), proc, 'repeated lookups share one object')
  const info = await proc.info()
  assert.deepEqual(info.cmdline, ['sleep', '60'])
  assert.equal(info.path, '/usr/bin/sleep')
  await child.kill()
  assert.equal(await proc.lifetime.staleReason(), 'has exited')
  await assert.rejects(proc.info(), (err: unknown) => err instanceof Error && /stale handle: process [0-9]+ \(sleep\) has exited/.test(err.message))
  assert.equal(await os.process(child.pid), undefined)
  await os.close()
})

test('threads are not processes; kernel threads are', async () => {
  const os = await openNative()
  const tids = (await readdir(`/proc/${process.pid}/task`)).map(Number).filter((tid) => tid !== process.pid)
  assert.ok(tids.length > 0, 'node runs helper threads')
  assert.equal(await os.process(tids[0] ?? 0), undefined)
  const kthreadd = await os.process(2)
  assert.ok(kthreadd !== undefined)
  assert.equal((await kthreadd.info()).kernelThread, true)
  assert.deepEqual(await kthreadd.maps(), [])
  await os.close()
})

test('the listing is reused for refresh_ms and rebuilt after refresh()', async () => {
  const os = await openNative('refresh_ms=600000')
  const before = await os.processes()
  assert.ok(before.some((r) => r.pid === process.pid))
  assert.deepEqual(before.map((r) => r.pid), before.map((r) => r.pid).sort((a, b) => a - b))
  const child = await spawnSleep()
  assert.ok(!(await os.processes()).some((r) => r.pid === child.pid), 'cached listing')
  os.refresh()
  assert.ok((await os.processes()).some((r) => r.pid === child.pid && r.name === 'sleep'))
  await child.kill()
  await os.close()
})

test('mem reads this process; unmapped pieces fail alone; writes are refused without allowWrite', async () => {
  const os = await openNative()
  const self = await os.process(process.pid)
  assert.ok(self !== undefined)
  const maps = await self.maps()
  const first = maps[0]
  assert.ok(first !== undefined)
  const [head, hole] = await self.mem.read([{ addr: first.start, length: 4 }, { addr: virtAddr(0x1000), length: 8 }])
  assert.ok(head?.ok)
  assert.deepEqual([...head.data], [0x7f, 0x45, 0x4c, 0x46])
  assert.ok(hole !== undefined && !hole.ok && hole.error.kind === 'unmapped')
  const [write] = await self.mem.write([{ addr: first.start, data: new Uint8Array(1) }])
  assert.ok(write !== undefined && !write.ok && write.error.kind === 'permission')
  const modules = await self.modules()
  assert.ok(modules.some((m) => m.name === 'node' && m.base === first.start))
  assert.ok(modules.some((m) => m.path === '[vdso]'))
  assert.ok(Object.keys(await self.environ()).length > 0)
  assert.ok((await self.auxv()).length % 16 === 0)
  await os.close()
})

test('native refuses a target and unknown or malformed arguments', async () => {
  await assert.rejects(openNative('foo'), /takes no target/)
  await assert.rejects(openNative('refresh=1'), /unknown argument 'refresh'/)
  await assert.rejects(openNative('refresh_ms=abc'), /must be an integer/)
})
