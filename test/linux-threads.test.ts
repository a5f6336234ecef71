/**
 * Threads and registers of Linux guest processes, end to end on the fixture
 * dumps (x86-64 and arm64): every thread of the multi-threaded test program
 * with the tids and names the guest's /proc showed, registers from the
 * kernel stacks that gdb (gdb-multiarch for arm64) turns into backtraces
 * reaching main (the real gdb, on the core from the tree, with the guest's
 * own binaries from the fixture cache), a thread a vCPU was running in user
 * mode taking that CPU's registers, and damaged kernel stacks giving zero
 * registers with a warning instead of a failure.
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { Connector } from '../src/connectors/index.js'
import { readU64, virtAddr } from '../src/mem/index.js'
import { readJson, readLeaf, readText } from '../src/net/index.js'
import type { LocalTreeClient } from '../src/net/index.js'
import type { OsInstance, ThreadRegisters, ThreadState } from '../src/os/index.js'
import { linuxOsKind } from '../src/os/linux/index.js'
import type { LinuxOs } from '../src/os/linux/index.js'
import type { KernelContext } from '../src/os/linux/kernel-context.js'
import { arm64CpuRegisters, qemuCpuRegisters } from '../src/os/linux/vcpu-registers.js'
import { stackGeometry } from '../src/os/linux/thread-registers.js'
import { readThreadTasks } from '../src/os/linux/thread-list.js'
import { TaskFields, walkTasks } from '../src/os/linux/task-list.js'
import { parseKindArgs } from '../src/tree/index.js'
import { fixtureRoot, linuxFixtures, NO_FIXTURES_REASON, openDump, patchedConnector, silentLog } from './linux-kit.js'
import type { LinuxFixture } from './linux-kit.js'
import { gdbBatch, gdbMissing } from './gdb-kit.js'
import type { GdbTarget } from './gdb-kit.js'
import { openOsNode } from './tree-kit.js'
import type { OsNode } from './tree-kit.js'

const FIXTURES = linuxFixtures()
const isArm64 = (fixture: LinuxFixture): boolean => fixture.truth.arch === 'aarch64'
const binDir = (fixture: LinuxFixture): string => join(fixtureRoot(), isArm64(fixture) ? 'bin-arm64' : 'bin')
const gdbTarget = (fixture: LinuxFixture): GdbTarget => (isArm64(fixture) ? 'aarch64' : 'x86_64')

function gdbSkip(fixture: LinuxFixture): string | false {
  return gdbMissing(gdbTarget(fixture)) || (existsSync(join(binDir(fixture), 'mw-pattern2')) ? false : `no test binaries in ${binDir(fixture)}`)
}

/** The registers every architecture has, for checks that hold on both. */
function userView(r: ThreadRegisters): { pc: bigint; sp: bigint; tls: bigint; fpBytes: number | undefined; userMode: boolean } {
  if (r.arch === 'aarch64') {
    return { pc: r.regs.pc, sp: r.regs.sp, tls: r.regs.tpidr_el0, fpBytes: r.fpsimd?.length, userMode: (r.regs.pstate & 0x1fn) === 0n }
  }
  return { pc: r.regs.rip, sp: r.regs.rsp, tls: r.regs.fs_base, fpBytes: r.fxsave?.length, userMode: r.regs.cs === 0x33n && r.regs.ss === 0x2bn }
}

interface TruthThreads { readonly pid: number; readonly tids?: readonly number[]; readonly threadNames?: Readonly<Record<string, string>> }

function textRanges(maps: string, program: string): { start: bigint; end: bigint }[] {
  return maps.split('\n').filter((l) => l.includes(' r-xp ') && l.endsWith(program)).map((l) => {
    const [range] = l.split(' ')
    const [start, end] = (range ?? '').split('-')
    return { start: BigInt(`0x${start ?? '0'}`), end: BigInt(`0x${end ?? '0'}`) }
  })
}

const gdbOnCore = (fixture: LinuxFixture, program: string, core: string, commands: readonly string[]): Promise<string> =>
  gdbBatch(join(binDir(fixture), program), commands, { core, target: gdbTarget(fixture) })

function threadSuite(fixture: LinuxFixture): void {
  const truth = fixture.truth
  const delta = truth.testPids['delta'] ?? 0
  const alpha = truth.testPids['alpha'] ?? 0
  let guest: OsNode
  let client: LocalTreeClient
  let os: OsInstance
  let dir: string

  before(async () => {
    guest = await openOsNode({ connector: `dump file:${fixture.dump}`, os: 'guest -c dump linux' })
    client = guest.client
    os = guest.os
    dir = await mkdtemp(join(tmpdir(), 'memweave-threads-'))
  })

  after(async () => {
    await guest?.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('lists every thread of the test programs with the tids and names of the guest /proc', async () => {
    for (const pid of Object.values(truth.testPids)) {
      const expected = truth.processes.find((p) => p.pid === pid) as (TruthThreads & { name: string }) | undefined
      assert.ok(expected !== undefined)
      const listed = (await client.list(`os/guest/processes/by-pid/${pid}/threads`)).map((e) => Number(e.name))
      assert.deepEqual([...listed].sort((a, b) => a - b), [...(expected.tids ?? [pid])].sort((a, b) => a - b), `threads of ${pid}`)
      for (const tid of listed) {
        const info = await readJson(client, `os/guest/processes/by-pid/${pid}/threads/${tid}/info`) as Record<string, unknown>
        assert.equal(info['tid'], tid)
        assert.equal(info['name'], expected.threadNames?.[String(tid)] ?? expected.name)
        assert.equal(info['registerSource'], 'kernel-stack', `${pid}/${tid}: ${JSON.stringify(info['warnings'])}`)
        assert.deepEqual(info['warnings'], [])
      }
    }
  })

  it('registers come from the kernel stacks: rip in the program text, user selectors, a stack pointer in its stack, text and JSON agree', async () => {
    const process = await os.process(delta)
    assert.ok(process?.threads !== undefined)
    const threads = await process.threads()
    const text = textRanges(truth.maps[String(delta)] ?? '', '/bin/mw-pattern2')
    assert.ok(text.length > 0)
    const pcName = isArm64(fixture) ? 'pc' : 'rip'
    for (const thread of threads) {
      assert.equal(thread.registers.arch, isArm64(fixture) ? 'aarch64' : 'x86_64')
      const user = userView(thread.registers)
      assert.ok(text.some((r) => user.pc >= r.start && user.pc < r.end), `${pcName} 0x${user.pc.toString(16)} of ${thread.tid} in the text`)
      assert.ok(user.userMode, 'a user-mode frame (x86-64: user selectors; arm64: EL0 pstate)')
      assert.ok(user.tls !== 0n, 'the thread pointer (FS base / tpidr_el0) from thread_struct')
      assert.equal(user.fpBytes, isArm64(fixture) ? 528 : 512, 'the FP area (FXSAVE / user_fpsimd_state)')
    }
    assert.equal(new Set(threads.map((t) => userView(t.registers).sp)).size, threads.length, 'each thread its own stack')
    assert.equal(new Set(threads.map((t) => userView(t.registers).tls)).size, threads.length, 'each thread its own TLS')
    const json = await readJson(client, `os/guest/processes/by-pid/${delta}/threads/${delta}/registers.json`) as { arch: string; registers: Record<string, string> }
    const main = threads.find((t) => t.tid === delta)
    assert.equal(json.arch, main?.registers.arch)
    assert.equal(json.registers[pcName], `0x${userView(main?.registers ?? threads[0]?.registers as ThreadRegisters).pc.toString(16)}`)
    const textLeaf = await readText(client, `os/guest/processes/by-pid/${delta}/threads/${delta}/registers`)
    assert.match(textLeaf, new RegExp(`^${pcName}\\s+${json.registers[pcName] ?? ''}\\s*$`, 'm'))
    assert.match(textLeaf, /^source: kernel-stack$/m)
  })

  it('the core carries every thread: gdb shows them all, with backtraces reaching main and worker_main', { skip: gdbSkip(fixture) }, async () => {
    const core = join(dir, `core.${delta}`)
    await writeFile(core, await readLeaf(client, `os/guest/processes/by-pid/${delta}/core`))
    const pcName = isArm64(fixture) ? 'pc' : 'rip'
    const out = await gdbOnCore(fixture, 'mw-pattern2', core, ['info threads', 'thread apply all bt', 'thread 1', `info registers ${pcName}`])
    const tids = (truth.processes.find((p) => p.pid === delta) as TruthThreads | undefined)?.tids ?? []
    assert.equal(tids.length, 3)
    for (const tid of tids) assert.match(out, new RegExp(`\\(LWP ${tid}\\)`), out)
    const blocks = out.split(/\nThread \d+ /).slice(1)
    const mainBlock = blocks.find((b) => b.includes(`(LWP ${delta})`))
    assert.match(mainBlock ?? '', /in pause \(\)[\s\S]*in main \(\)/, out)
    for (const tid of tids.filter((t) => t !== delta)) {
      assert.match(blocks.find((b) => b.includes(`(LWP ${tid})`)) ?? '', /in pause \(\)[\s\S]*in worker_main \(\)[\s\S]*in start_thread \(\)/, out)
    }
    assert.match(out, new RegExp(`^${pcName}\\s+0x[0-9a-f]+\\s+0x[0-9a-f]+ <pause\\+\\d+>$`, 'm'))
    const single = join(dir, `core.${alpha}`)
    await writeFile(single, await readLeaf(client, `os/guest/processes/by-pid/${alpha}/core`))
    assert.match(await gdbOnCore(fixture, 'mw-pattern', single, ['bt']), /in pause \(\)[\s\S]*in main \(\)/)
  })

  it('the core holds the saved auxiliary vector (AT_PHDR, AT_ENTRY of the program)', async () => {
    const process = await os.process(delta)
    const auxv = await process?.auxv?.()
    assert.ok(auxv !== undefined && auxv.length % 16 === 0 && auxv.length > 16)
    const view = new DataView(auxv.buffer, auxv.byteOffset, auxv.byteLength)
    const entries = new Map<bigint, bigint>()
    for (let at = 0; at < auxv.length; at += 16) entries.set(view.getBigUint64(at, true), view.getBigUint64(at + 8, true))
    assert.equal(entries.get(6n), 4096n, 'AT_PAGESZ')
    assert.ok(textRanges(truth.maps[String(delta)] ?? '', '/bin/mw-pattern2').some((r) => (entries.get(9n) ?? 0n) >= r.start && (entries.get(9n) ?? 0n) < r.end), 'AT_ENTRY in the text')
  })
}

describe('threads and registers of Linux guest processes', { skip: FIXTURES.length === 0 ? NO_FIXTURES_REASON : false }, () => {
  for (const fixture of FIXTURES) describe(fixture.label, () => threadSuite(fixture))
})

/** The per-CPU slot holding CPU 0's current task: current_task, pcpu_hot.current_task or runqueues.curr (as the reader looks for it). */
async function currentSlotOfCpu0(kernel: KernelContext): Promise<bigint> {
  const offset0 = await readU64(kernel.kmem, virtAddr(kernel.symbols.addr('__per_cpu_offset')))
  const plain = kernel.symbols.maybe('current_task')
  const hot = kernel.symbols.maybe('pcpu_hot')
  const variable = plain ?? (hot !== undefined ? hot + BigInt(kernel.btf.struct('pcpu_hot').field('current_task').offsetBytes)
    : kernel.symbols.addr('runqueues') + BigInt(kernel.btf.struct('rq').field('curr').offsetBytes))
  return BigInt.asUintN(64, offset0 + variable)
}

/** The first CPU note changed to show that CPU running user code, and the registers the tree must then give. */
function runningCpuNotes(fixture: LinuxFixture, connector: Connector): { notes: Connector['hints']['elfNotes']; expected: Readonly<Record<string, bigint>>; fpsimd?: Uint8Array } {
  const notes = connector.hints.elfNotes ?? []
  const arm64 = isArm64(fixture)
  const index = notes.findIndex((n) => (arm64 ? n.name === 'CORE' && n.type === 1 : n.name === 'QEMU'))
  const note = notes[index]
  assert.ok(note !== undefined, 'a CPU note in the dump')
  // The guest was idle at dump time: make CPU 0 run worker 2 in user mode, as a dump of a busy guest would show it.
  const desc = note.desc.slice()
  const view = new DataView(desc.buffer)
  if (arm64) {
    view.setBigUint64(112 + 32 * 8, 0x400bc8n, true) // pc, in mw-pattern2's text
    view.setBigUint64(112 + 31 * 8, 0xffff9a4bfb40n, true) // sp
    view.setBigUint64(112 + 33 * 8, 0x60000000n, true) // pstate: EL0t, flags Z and C
    view.setBigUint64(112, 0x1234n, true) // x0 (register 0 of 112 + 8 * n)
  } else {
    view.setBigUint64(8 + 16 * 8, 0x401ae5n, true) // rip
    view.setBigUint64(8 + 6 * 8, 0x7fff1234560n, true) // rsp
    view.setUint32(8 + 18 * 8, 0x33, true) // cs selector
    view.setUint32(8 + 18 * 8 + 5 * 24, 0x2b, true) // ss selector
  }
  const patched = notes.map((n, i) => (i === index ? { ...n, desc } : n))
  if (arm64) {
    const cpu = arm64CpuRegisters(patched)[0]
    assert.ok(cpu?.userMode === true)
    return { notes: patched, expected: cpu.regs, fpsimd: cpu.fpsimd }
  }
  const cpu = qemuCpuRegisters([{ ...note, desc }])[0]
  assert.ok(cpu?.userMode === true)
  return { notes: patched, expected: cpu.regs }
}

function damageSuite(fixture: LinuxFixture): void {
  let base: Connector
  let clean: LinuxOs
  let threads: ThreadState[]
  let taskOf: Map<number, bigint>
  const delta = fixture.truth.testPids['delta'] ?? 0

  const openLinux = (connector: Connector): Promise<OsInstance> =>
    linuxOsKind.create(parseKindArgs(''), connector, { allowWrite: false, log: silentLog, parentLifetime: connector.lifetime, description: "os 'patched'" })

  async function physOf(virt: bigint): Promise<bigint> {
    const [t] = await clean.kernel.kmem.translate([virtAddr(virt)])
    assert.ok(t?.ok)
    return t.phys
  }

  const u64 = (value: bigint): Uint8Array => {
    const out = new Uint8Array(8)
    new DataView(out.buffer).setBigUint64(0, value, true)
    return out
  }

  before(async () => {
    base = await openDump(fixture.dump)
    clean = await openLinux(base) as LinuxOs
    const process = await clean.process(delta)
    threads = await process?.threads?.() ?? []
    const leader = (await walkTasks(clean.kernel, new TaskFields(clean.kernel))).find((t) => t.pid === delta)
    assert.ok(leader !== undefined)
    taskOf = new Map((await readThreadTasks(clean.kernel, leader)).threads.map((t) => [t.view.i32('pid'), t.addr]))
  })

  after(async () => { await base.close() })

  it('a thread a vCPU ran in user mode takes that CPU note\'s registers, in the tree and in the core', async () => {
    const worker = threads[2]
    assert.ok(worker !== undefined)
    const { notes, expected, fpsimd } = runningCpuNotes(fixture, base)
    const slot = await physOf(await currentSlotOfCpu0(clean.kernel))
    const patched = patchedConnector(base, [{ addr: slot, data: u64(taskOf.get(worker.tid) ?? 0n) }], { ...base.hints, elfNotes: notes })
    const os = await openLinux(patched)
    const all = (await (await os.process(delta))?.threads?.()) ?? []
    const running = all.find((t) => t.tid === worker.tid)
    assert.equal(running?.registers.source, 'cpu-note')
    assert.equal(running?.cpu, 0)
    assert.equal(running?.state, 'R')
    if (running?.registers.arch === 'aarch64') {
      // tpidr_el0 is not in the CPU note: the value the thread saved at its last switch
      assert.deepEqual(running.registers.regs, { ...expected, tpidr_el0: worker.registers.arch === 'aarch64' ? worker.registers.regs.tpidr_el0 : -1n })
      assert.deepEqual(running.registers.fpsimd, fpsimd, 'the FP/SIMD registers of the CPU\'s NT_FPREGSET note')
    } else {
      assert.deepEqual(running?.registers.regs, expected)
    }
    assert.ok(all.filter((t) => t.tid !== worker.tid).every((t) => t.registers.source === 'kernel-stack'))
  })

  it('a zeroed pt_regs and a stack pointer out of range give zero registers and a warning; the other threads still read', async () => {
    const geometry = stackGeometry(clean.kernel)
    const [main, worker1, worker2] = threads
    assert.ok(main !== undefined && worker1 !== undefined && worker2 !== undefined)
    const task1 = taskOf.get(worker1.tid) ?? 0n
    const task2 = taskOf.get(worker2.tid) ?? 0n
    const layout = clean.kernel.btf.struct('task_struct')
    const stackField = BigInt(layout.field('stack').offsetBytes)
    const stack1 = await readU64(clean.kernel.kmem, virtAddr(task1 + stackField))
    const regsAt = await physOf(stack1 + geometry.threadSize - BigInt(geometry.ptRegs.sizeBytes))
    const patches = [
      { addr: regsAt, data: new Uint8Array(geometry.ptRegs.sizeBytes) },
      { addr: await physOf(task2 + stackField), data: u64(0x1234n) },
    ]
    if (isArm64(fixture)) {
      // A tagged pointer (KASAN tag-based modes): the kernel untags it, and so must the reader.
      const mainTask = taskOf.get(main.tid) ?? 0n
      const mainStack = await readU64(clean.kernel.kmem, virtAddr(mainTask + stackField))
      patches.push({ addr: await physOf(mainTask + stackField), data: u64((mainStack & 0x00ffffffffffffffn) | 0xf300000000000000n) })
    }
    const os = await openLinux(patchedConnector(base, patches))
    const read = await (await os.process(delta))?.threads?.() ?? []
    const byTid = new Map(read.map((t) => [t.tid, t]))
    assert.equal(byTid.get(worker1.tid)?.registers.source, 'none')
    assert.match(byTid.get(worker1.tid)?.registers.warnings.join('\n') ?? '', /pt_regs is all zero/)
    assert.equal(byTid.get(worker2.tid)?.registers.source, 'none')
    assert.match(byTid.get(worker2.tid)?.registers.warnings.join('\n') ?? '', /kernel stack pointer 0x1234 is not/)
    assert.ok(Object.values(byTid.get(worker2.tid)?.registers.regs ?? {}).every((v) => v === 0n))
    assert.deepEqual(byTid.get(main.tid)?.registers.regs, main.registers.regs)
  })
}

/** One plain fixture per architecture: the patched-dump checks need one kernel each, not the whole matrix. */
const DAMAGE_FIXTURES = [FIXTURES.find((f) => f.variant === 'plain' && !isArm64(f)), FIXTURES.find((f) => f.variant === 'plain' && isArm64(f))]
  .filter((f): f is LinuxFixture => f !== undefined)

describe('registers of running and damaged threads', { skip: DAMAGE_FIXTURES.length === 0 ? NO_FIXTURES_REASON : false }, () => {
  for (const fixture of DAMAGE_FIXTURES) describe(fixture.label, () => damageSuite(fixture))
})
