/**
 * The linux OS kind end to end on real Debian guests (every kernel of the
 * fixture matrix, x86-64 and arm64, dumps with and without VMCOREINFO):
 * opened from memory alone through the tree,
 * everything compared with what the guest's own /proc said (truth.json):
 * the process list with kernel threads, per-process info, maps byte for
 * byte, pattern bytes through process memory and through phys_maps,
 * environments, kernel modules, kallsyms addresses (the KASLR slide), and
 * a process core that gdb (gdb-multiarch with arm64 fixtures) reads.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { after, before, describe, it } from 'node:test'
import { physAddr, virtAddr } from '../src/mem/index.js'
import { readJson, readLeaf, readText } from '../src/net/index.js'
import type { LocalTreeClient } from '../src/net/index.js'
import type { OsInstance } from '../src/os/index.js'
import type { LinuxOs } from '../src/os/linux/index.js'
import { linuxFixtures, NO_FIXTURES_REASON, truthWithLateKernelThreads } from './linux-kit.js'
import type { LinuxFixture } from './linux-kit.js'
import { openOsNode, readAt } from './tree-kit.js'
import type { OsNode } from './tree-kit.js'

const FIXTURES = linuxFixtures()
const execFileAsync = promisify(execFile)
/** gdb-multiarch reads x86-64 and AArch64 cores alike; plain gdb only the host's. */
const GDB = FIXTURES.some((f) => f.truth.arch === 'aarch64') ? 'gdb-multiarch' : 'gdb'
const GDB_MISSING = await execFileAsync(GDB, ['--version']).then(() => false, () => `${GDB} is not installed`)
const STATE_LETTERS = /^[RSDTtXZPI]$/

function ms(since: number): number {
  return Math.round((performance.now() - since) * 10) / 10
}

function guestSuite(fixture: LinuxFixture): void {
  const truth = fixture.truth
  let guest: OsNode
  let client: LocalTreeClient
  let os: OsInstance

  before(async () => {
    guest = await openOsNode({ connector: `dump file:${fixture.dump}`, os: 'guest -c dump linux' })
    client = guest.client
    os = guest.os
  })

  after(() => guest.close())

  it('info names the release, the KASLR base and slide, the direct map, memory as the sources and the detected layouts', async (t) => {
    const info = await readJson(client, 'os/guest/info') as Record<string, unknown>
    assert.equal(info['release'], truth.release)
    assert.equal(info['kernelBase'], truth.kaslr.text)
    assert.equal(info['kaslrOffset'], truth.kaslr.textSlide)
    if (truth.arch === 'aarch64') {
      // arm64: the linear map at -(1 << VA_BITS), 48 or 52 (LPA2 on "max" CPUs: 5 levels)
      assert.equal(info['arch'], 'aarch64')
      assert.match(String(info['directMapBase']), /^0xfff(f|0)000000000000$/)
      assert.ok([3, 4, 5].includes(Number(info['pagingLevels'])))
    } else {
      assert.equal(info['arch'], 'x86_64')
      assert.equal(info['directMapBase'], truth.kernelVars['page_offset_base']?.value)
      assert.equal(info['pagingLevels'], 4)
    }
    assert.equal(info['symbolSource'], 'kallsyms (memory)')
    assert.equal(info['symbolCount'], truth.kallsymsCount.core)
    assert.equal(info['typeSource'], 'BTF (memory)')
    assert.deepEqual(info['warnings'], [])
    assert.ok(Number(info['types']) > 10_000)
    assert.ok(String(info['banner']).startsWith(`Linux version ${truth.release} `), String(info['banner']))
    // every detected layout is named (kallsyms order/addressing, module and VMA layouts, paging)
    const layouts = info['layouts'] as Record<string, string>
    for (const key of ['paging', 'kallsyms', 'modules', 'vmas', 'taskState']) assert.equal(typeof layouts[key], 'string', key)
    assert.match(layouts['kallsyms'] ?? '', /^(offsets-first|names-first), (base-relative|absolute-percpu|pc-relative)/)
    assert.match(layouts['vmas'] ?? '', /^maple tree/)
    t.diagnostic(`layouts: ${JSON.stringify(layouts)}`)
    const timings = (await os.info())['timingsMs'] as Record<string, number>
    for (const phase of ['dtb', 'kernel', 'kallsyms', 'btf', 'tasks']) assert.equal(typeof timings[phase], 'number', phase)
  })

  it('decodes kallsyms to the guest /proc/kallsyms addresses and types', () => {
    const linux = os as LinuxOs
    for (const [name, address] of Object.entries(truth.kallsyms)) {
      const symbol = linux.kernel.symbols.get(name)
      assert.ok(symbol !== undefined, name)
      assert.equal(`0x${symbol.addr.toString(16)}`, address, name)
      assert.equal(symbol.type, truth.kallsymsTypes[name], `${name} type`)
    }
    // Every 1000th core line, by position: duplicate static names are checked too.
    for (const sample of truth.kallsymsSamples.filter((s) => s.module === null)) {
      const symbol = linux.kernel.symbols.at(sample.index)
      assert.deepEqual([symbol?.name, symbol?.type, `0x${symbol?.addr.toString(16)}`], [sample.name, sample.type, sample.address], `kallsyms line ${sample.index}`)
    }
  })

  it('reads the BTF section byte for byte', async () => {
    const start = BigInt(truth.btf.start)
    const [result] = await os.kernelMemory!.read([{ addr: virtAddr(start), length: truth.btf.sizeBytes }])
    assert.ok(result?.ok)
    assert.equal(createHash('sha256').update(result.data).digest('hex'), truth.btf.sha256)
  })

  it('lists exactly the processes of the guest /proc, kernel threads included', async () => {
    const refs = await os.processes()
    const expected = truthWithLateKernelThreads(truth, refs)
    assert.deepEqual(refs.map((p) => [p.pid, p.ppid, p.name]), expected.map((p) => [p.pid, p.ppid, p.name]))
    const byPid = (await client.list('os/guest/processes/by-pid')).map((e) => Number(e.name)).sort((a, b) => a - b)
    assert.deepEqual(byPid, expected.map((p) => p.pid))
  })

  it('gives each process the uid, threads, cmdline and kind /proc showed; test programs also their state', async () => {
    const testPids = new Set(Object.values(truth.testPids))
    for (const expected of truth.processes) {
      const process = await os.process(expected.pid)
      assert.ok(process !== undefined, `pid ${expected.pid}`)
      const info = await process.info()
      const label = `pid ${expected.pid} (${expected.name})`
      assert.equal(info.uid, expected.uid, label)
      assert.equal(info.threads, expected.threads, label)
      assert.deepEqual(info.cmdline, expected.cmdline, label)
      assert.equal(info.kernelThread, expected.kernelThread, label)
      assert.match(info.state, STATE_LETTERS, label)
      // Test programs sleep in pause() for good; kernel threads may change state between truth and dump.
      if (testPids.has(expected.pid) || expected.pid === 1) assert.equal(info.state, expected.state, label)
      // start_boottime in ns; /proc shows it in USER_HZ (100) ticks.
      assert.equal(info.startTime / 10_000_000n, BigInt(expected.startTimeTicks), label)
      if (testPids.has(expected.pid)) assert.equal(info.path, expected.cmdline[0], label)
      else if (!expected.kernelThread) assert.match(info.path ?? '', /^\/bin\//, label)
      else assert.equal(info.path, undefined, label)
    }
    const tree = await readJson(client, `os/guest/processes/by-pid/${truth.testPids['delta']}/info`) as Record<string, unknown>
    assert.equal(tree['threads'], 3)
  })

  it('prints each test program\'s maps exactly as /proc/PID/maps did', async () => {
    for (const [pid, text] of Object.entries(truth.maps)) {
      assert.equal(await readText(client, `os/guest/processes/by-pid/${pid}/maps`), text, `maps of ${pid}`)
    }
  })

  it('reads every pattern through process mem and through its phys_maps translation', async () => {
    for (const pattern of truth.patterns) {
      const addr = BigInt(pattern.address)
      const bytes = await readAt(client, `os/guest/processes/by-pid/${pattern.pid}/mem`, addr, pattern.length)
      assert.equal(bytes.toString('hex'), pattern.bytes, `${pattern.kind} pattern of ${pattern.pid}`)
      const process = await os.process(pattern.pid)
      const run = (await process!.physMaps()).find((r) => r.virt <= addr && addr < r.virt + r.sizeBytes)
      assert.ok(run !== undefined && run.user, `phys_maps of ${pattern.pid} cover 0x${addr.toString(16)}`)
      const connector = guest.node.store.connectors.get('dump')!.connector
      const [phys] = await connector.mem.read([{ addr: physAddr(run.phys + addr - run.virt), length: pattern.length }])
      assert.ok(phys?.ok)
      assert.equal(Buffer.from(phys.data).toString('hex'), pattern.bytes)
    }
  })

  it('reads each test program\'s environment and lists its executable as a module', async () => {
    for (const [pid, environ] of Object.entries(truth.environ)) {
      const process = await os.process(Number(pid))
      assert.deepEqual(await process!.environ!(), environ, `environ of ${pid}`)
      const exe = truth.processes.find((p) => p.pid === Number(pid))!.cmdline[0]!
      const modules = await process!.modules()
      const image = modules.find((m) => m.path === exe)
      assert.ok(image !== undefined, `${exe} among ${modules.map((m) => m.path).join(', ')}`)
      assert.equal(image.base, 0x400000n)
      const head = await readAt(client, `os/guest/processes/by-pid/${pid}/modules/${image.name}/mem`, 0n, 4)
      assert.equal(head.toString('latin1'), '\x7fELF')
    }
  })

  it('lists the kernel modules of /proc/modules with their sizes and addresses', async () => {
    const modules = await os.kernelModules()
    assert.deepEqual(modules.map((m) => [m.name, Number(m.sizeBytes), `0x${m.base.toString(16)}`]), truth.modules.map((m) => [m.name, m.size, m.address]))
    const names = (await client.list('os/guest/modules')).map((e) => e.name).sort()
    assert.deepEqual(names, truth.modules.map((m) => m.name).sort())
  })

  it(`gives a core that ${GDB} loads and reads every pattern of a test program from`, { skip: GDB_MISSING }, async () => {
    const pid = truth.testPids['alpha']
    assert.ok(pid !== undefined)
    const dir = await mkdtemp(join(tmpdir(), 'mw-linux-core-'))
    try {
      const core = join(dir, 'core')
      await writeFile(core, await readLeaf(client, `os/guest/processes/by-pid/${pid}/core`))
      const patterns = truth.patterns.filter((p) => p.pid === pid)
      assert.ok(patterns.length > 0)
      const args = ['-nx', '-batch', ...patterns.flatMap((p) => ['-ex', `x/${p.length}xb ${p.address}`]), '-c', core]
      const { stdout } = await execFileAsync(GDB, args, { timeout: 60_000 })
      const dumped = stdout.split('\n').filter((l) => l.startsWith('0x')).flatMap((l) => l.split(':')[1]?.trim().split(/\s+/) ?? []).map((b) => b.replace(/^0x/, '')).join('')
      assert.equal(dumped, patterns.map((p) => p.bytes).join(''), `${GDB} reads the patterns from the core`)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('is fast: process list and all maps (timings in the diagnostics)', async (t) => {
    let started = performance.now()
    os.refresh()
    const refs = await os.processes()
    const listMs = ms(started)
    started = performance.now()
    let mapped = 0
    for (const ref of refs) mapped += (await (await os.process(ref.pid))!.maps()).length
    const mapsMs = ms(started)
    t.diagnostic(`${fixture.label}: open ${Math.round(guest.openMs * 10) / 10} ms ${JSON.stringify((await os.info())['timingsMs'])}, process list ${listMs} ms (${refs.length}), maps of all ${mapsMs} ms (${mapped} VMAs)`)
    assert.ok(mapped > 0)
  })
}

describe('linux guests from memory alone', { skip: FIXTURES.length === 0 ? NO_FIXTURES_REASON : false }, () => {
  for (const fixture of FIXTURES) describe(fixture.label, () => guestSuite(fixture))
})
