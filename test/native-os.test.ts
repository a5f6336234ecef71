/**
 * The native OS kind end to end, on real processes: a small C program
 * (compiled here with gcc) puts a known string on its heap and prints the
 * address; the test finds it under os/host/processes/, compares maps with
 * /proc/PID/maps byte for byte, reads the string through mem and through
 * the core file in gdb, compares the core with gcore's, and checks that
 * handles go stale when the process exits or its pid is reused.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { virtAddr } from '../src/mem/index.js'
import { readJson, readLeaf, readText } from '../src/net/index.js'
import type { LocalTreeClient } from '../src/net/index.js'
import type { MemweaveNode } from '../src/node/index.js'
import { writeCoreFile } from '../src/os/index.js'
import { nativeOsKind } from '../src/os/native/index.js'
import { Lifetime, parseKindArgs } from '../src/tree/index.js'
import { available, buildTarget, spawnTarget } from './host-target.js'
import type { Target } from './host-target.js'
import { openOsNode, silentLog } from './tree-kit.js'
import type { OsNode } from './tree-kit.js'
import { isKind } from './error-kit.js'

const run = promisify(execFile)
const PATTERN = 'memweave-pattern-7f3a9c'

interface LoadSegment { vaddr: bigint; memsz: bigint; filesz: bigint; offset: bigint }

/** PT_LOAD headers of an ELF64 core. */
function loadSegments(core: Buffer): LoadSegment[] {
  const phoff = Number(core.readBigUInt64LE(32))
  const phnum = core.readUInt16LE(56)
  const out: LoadSegment[] = []
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * 56
    if (core.readUInt32LE(p) !== 1) continue
    out.push({ offset: core.readBigUInt64LE(p + 8), vaddr: core.readBigUInt64LE(p + 16), filesz: core.readBigUInt64LE(p + 32), memsz: core.readBigUInt64LE(p + 40) })
  }
  return out
}

const HAS_GCC = await available('gcc')
const HAS_GDB = await available('gdb')

describe('native OS on real processes', { skip: HAS_GCC ? false : 'gcc is not installed' }, () => {
  let dir: string
  let program: string
  let host: OsNode | undefined
  let node: MemweaveNode
  let client: LocalTreeClient
  const targets: Target[] = []

  async function startTarget(env: Record<string, string> = {}): Promise<Target> {
    const inherited = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined))
    const target = await spawnTarget(program, PATTERN, { ...inherited, ...env })
    targets.push(target)
    return target
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mw-native-'))
    program = await buildTarget(dir, 'mw-target')
    host = await openOsNode({ os: 'host native:refresh_ms=100' })
    node = host.node
    client = host.client
  })

  after(async () => {
    for (const t of targets) t.child.kill('SIGKILL')
    await host?.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('lists the process by pid, name and pid-name, with its cmdline and exact maps', async () => {
    const t = await startTarget()
    node.store.oses.get('host')?.os.refresh()
    assert.ok((await client.list('os/host/processes/by-pid')).some((e) => e.name === String(t.pid)))
    const info = await readJson(client, `os/host/processes/by-pid/${t.pid}/info`) as Record<string, unknown>
    assert.equal(info['pid'], t.pid)
    assert.equal(info['name'], 'mw-target')
    assert.equal(info['path'], program)
    assert.deepEqual(info['cmdline'], [program, PATTERN])
    assert.equal(info['kernelThread'], false)
    assert.ok((await client.list('os/host/processes/by-pid-name')).some((e) => e.name === `mw-target (${t.pid})`))
    assert.equal((await client.stat(`os/host/processes/by-pid-name/mw-target (${t.pid})/maps`)).type, 'leaf')
    await assert.rejects(client.stat(`os/host/processes/by-pid-name/other (${t.pid})/maps`), isKind('not_found'))
    // by-name shows the lowest pid of that name.
    const byName = await readJson(client, 'os/host/processes/by-name/mw-target/info') as Record<string, unknown>
    assert.equal(byName['pid'], Math.min(...targets.filter((x) => x.child.exitCode === null).map((x) => x.pid)))

    const maps = Buffer.from(await readLeaf(client, `os/host/processes/by-pid/${t.pid}/maps`))
    assert.equal(maps.toString(), await readFile(`/proc/${t.pid}/maps`, 'utf8'))
  })

  it('kernel threads with / in their names are listed escaped', async () => {
    const names = (await client.list('os/host/processes/by-name')).map((e) => e.name)
    assert.ok(names.every((n) => !n.includes('/')))
    const kworker = names.find((n) => n.startsWith('kworker\u2215'))
    assert.ok(kworker !== undefined, 'a kworker/… kernel thread is listed as kworker∕…')
    const info = await readJson(client, `os/host/processes/by-name/${kworker}/info`) as Record<string, unknown>
    assert.equal(info['kernelThread'], true)
    assert.ok(String(info['name']).startsWith('kworker/'))
  })

  it('reads the pattern through mem; an unmapped piece fails alone', async () => {
    const t = await startTarget()
    const opened = await client.open(`os/host/processes/by-pid/${t.pid}/mem`)
    try {
      assert.equal(opened.sizeBytes, 1n << 48n)
      const [hit, miss] = await client.read(opened.handle, [{ addr: t.addr, length: PATTERN.length }, { addr: 0x1000n, length: 16 }])
      assert.ok(hit?.ok)
      assert.equal(Buffer.from(hit.data).toString(), PATTERN)
      assert.ok(miss !== undefined && !miss.ok && miss.error.kind === 'unmapped')
      await assert.rejects(client.write(opened.handle, [{ addr: t.addr, data: new Uint8Array(1) }]), isKind('permission'))

      // With writes allowed, /proc/PID/mem takes them; the read-only OS sees the change.
      const writable = await nativeOsKind.create(parseKindArgs(''), undefined, {
        allowWrite: true, log: silentLog, parentLifetime: new Lifetime('test'), description: "os 'rw'",
      })
      const target = await writable.process(t.pid)
      assert.ok(target !== undefined)
      const [written] = await target.mem.write([{ addr: virtAddr(t.addr), data: Buffer.from('MEMWEAVE') }])
      assert.ok(written?.ok)
      await writable.close()
      const [changed] = await client.read(opened.handle, [{ addr: t.addr, length: PATTERN.length }])
      assert.ok(changed?.ok)
      assert.equal(Buffer.from(changed.data).toString(), `MEMWEAVE${PATTERN.slice(8)}`)
    } finally {
      await client.close(opened.handle)
    }
  })

  it('lists mapped ELF images as modules with mem at offset 0 = base', async () => {
    const t = await startTarget()
    const names = (await client.list(`os/host/processes/by-pid/${t.pid}/modules`)).map((e) => e.name)
    assert.ok(names.includes('mw-target') && names.includes('libc.so.6'), names.join(', '))
    const info = await readJson(client, `os/host/processes/by-pid/${t.pid}/modules/mw-target/info`) as Record<string, unknown>
    const firstMap = (await readFile(`/proc/${t.pid}/maps`, 'utf8')).split('\n').find((l) => l.endsWith(program)) ?? ''
    assert.equal(info['base'], `0x${firstMap.split('-')[0]?.replace(/^0+/, '')}`)
    const opened = await client.open(`os/host/processes/by-pid/${t.pid}/modules/mw-target/mem`)
    try {
      const [head] = await client.read(opened.handle, [{ addr: 0n, length: 4 }])
      assert.ok(head?.ok)
      assert.deepEqual([...head.data], [0x7f, 0x45, 0x4c, 0x46])
    } finally {
      await client.close(opened.handle)
    }
  })

  it('shows environ and phys_maps', async () => {
    const t = await startTarget({ MW_NATIVE_TEST: 'hello world' })
    const environ = await readText(client, `os/host/processes/by-pid/${t.pid}/environ`)
    assert.ok(environ.split('\n').includes('MW_NATIVE_TEST=hello world'))
    if (process.getuid?.() !== 0) return // frame numbers need root; without it phys_maps fails with 'permission'
    const lines = (await readText(client, `os/host/processes/by-pid/${t.pid}/phys_maps`)).trim().split('\n')
    const covering = lines.map((l) => l.split(' ')).find(([range = '']) => {
      const [start = '0', end = '0'] = range.split('-')
      return BigInt(`0x${start}`) <= t.addr && t.addr < BigInt(`0x${end}`)
    })
    assert.ok(covering !== undefined, 'the heap page holding the pattern is present')
    assert.match(covering[1] ?? '', /^[0-9a-f]{16}$/)
    assert.notEqual(BigInt(`0x${covering[1] ?? '0'}`), 0n)
    assert.match(covering[2] ?? '', /^rw-u$/)
  })

  it('serves a core file that gdb loads and that matches gcore', { skip: HAS_GDB ? false : 'gdb is not installed: apt-get install -y gdb' }, async () => {
    const t = await startTarget()
    const listed = await client.stat(`os/host/processes/by-pid/${t.pid}/core`)
    const core = Buffer.from(await readLeaf(client, `os/host/processes/by-pid/${t.pid}/core`))
    assert.equal(listed.meta?.sizeBytes, BigInt(core.length), 'the size known at listing time is the size read')
    const corePath = join(dir, `core.tree.${t.pid}`)
    await writeFile(corePath, core)
    const { stdout } = await run('gdb', ['-batch', '-nx', '-ex', `x/s 0x${t.addr.toString(16)}`, program, corePath], { timeout: 60_000 })
    assert.ok(stdout.includes(`"${PATTERN}"`), stdout)

    // writeCoreFile streams the same bytes (sparse where zero).
    const process = await node.store.oses.get('host')?.os.process(t.pid)
    assert.ok(process !== undefined)
    const written = await writeCoreFile(process, join(dir, `core.file.${t.pid}`))
    assert.equal(written.sizeBytes, BigInt(core.length))
    assert.ok((await readFile(join(dir, `core.file.${t.pid}`))).equals(core))

    // Every range gcore dumps with data (except [vsyscall], which /proc/PID/mem cannot read) is in ours with the same bytes.
    await run('gcore', ['-o', join(dir, 'gcore'), String(t.pid)], { timeout: 60_000 })
    const theirs = await readFile(join(dir, `gcore.${t.pid}`))
    const ours = new Map(loadSegments(core).map((s) => [s.vaddr, s]))
    const compared = loadSegments(theirs).filter((s) => s.filesz > 0n && s.vaddr < 1n << 63n)
    assert.ok(compared.length > 3)
    for (const segment of compared) {
      const mine = ours.get(segment.vaddr)
      assert.ok(mine !== undefined && mine.memsz === segment.memsz && mine.filesz === segment.memsz, `segment 0x${segment.vaddr.toString(16)}`)
      const a = core.subarray(Number(mine.offset), Number(mine.offset + mine.filesz))
      const b = theirs.subarray(Number(segment.offset), Number(segment.offset + segment.filesz))
      assert.ok(a.equals(b), `bytes of segment 0x${segment.vaddr.toString(16)} match gcore's`)
    }
    // And ours has data for every readable mapping except the kernel's [vvar] pages.
    const readable = (await readFile(`/proc/${t.pid}/maps`, 'utf8')).trim().split('\n')
      .filter((l) => l.split(' ')[1]?.startsWith('r') === true && !l.includes('[vvar'))
      .map((l) => BigInt(`0x${l.split('-')[0] ?? ''}`))
    assert.deepEqual(loadSegments(core).filter((s) => s.filesz > 0n).map((s) => s.vaddr), readable)
  })

  it('a handle goes stale when its process exits, and the path no longer resolves', async () => {
    const t = await startTarget()
    const mem = await client.open(`os/host/processes/by-pid/${t.pid}/mem`)
    const info = await client.open(`os/host/processes/by-pid/${t.pid}/info`)
    t.child.stdin.end()
    await t.exited
    await assert.rejects(client.read(mem.handle, [{ addr: t.addr, length: 4 }]), (err: unknown) => isKind('stale')(err) && /has exited/.test(String(err)))
    await assert.rejects(client.read(info.handle, [{ addr: 0n, length: 4 }]), isKind('stale'))
    await assert.rejects(client.open(`os/host/processes/by-pid/${t.pid}/mem`), isKind('not_found'))
    await client.close(mem.handle)
    await client.close(info.handle)
  })

  it('a reused pid is a new process: old handles go stale, the path opens a new handle', async (t) => {
    // Steer pid allocation so a new process gets the old pid; other processes may race for it, so try a few times.
    for (let attempt = 0; attempt < 5; attempt++) {
      const a = await startTarget()
      const old = await client.open(`os/host/processes/by-pid/${a.pid}/mem`)
      a.child.kill('SIGKILL')
      await a.exited
      try {
        await writeFile('/proc/sys/kernel/ns_last_pid', String(a.pid - 1))
      } catch (err) {
        await client.close(old.handle)
        t.skip(`cannot steer pid allocation through ns_last_pid: ${String(err)}`)
        return
      }
      const b = await startTarget()
      if (b.pid !== a.pid) { await client.close(old.handle); continue }
      await assert.rejects(client.read(old.handle, [{ addr: b.addr, length: 4 }]),
        (err: unknown) => isKind('stale')(err) && /now belongs to another process/.test(String(err)))
      const fresh = await client.open(`os/host/processes/by-pid/${b.pid}/mem`)
      assert.notEqual(fresh.handle, old.handle)
      const [data] = await client.read(fresh.handle, [{ addr: b.addr, length: PATTERN.length }])
      assert.ok(data?.ok)
      assert.equal(Buffer.from(data.data).toString(), PATTERN)
      await client.close(fresh.handle)
      await client.close(old.handle)
      return
    }
    t.skip('other processes kept taking the steered pid')
  })
})
