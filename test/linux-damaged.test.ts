/**
 * A damaged guest still opens: a real fixture dump is copied to a temp file
 * and one task_struct is corrupted in place, at the physical address memweave
 * itself finds for it (the task list walked in-process, kmem translated), and
 * written through a real daemon's writable file connector. The daemon then
 * opens the damaged copy with `os new` and must list every task it can,
 * report the damage in os/NAME/info `warnings`, and flag the affected process
 * (its info `damage`, a DAMAGE column in `ps`). After each case the original
 * bytes are written back. Kinds: a tasks.next that is not a pointer, a cycle,
 * a garbage pid, a garbage comm, an mm that points nowhere. x86-64 and arm64
 * fixtures share the walk, so both run.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { after, before, describe, it } from 'node:test'
import type { Connector } from '../src/connectors/index.js'
import { virtAddr } from '../src/mem/index.js'
import { readJson, readText, writeLine } from '../src/index.js'
import { connectClient } from '../src/net/index.js'
import type { ProtocolClient } from '../src/net/index.js'
import { LinuxProcess, linuxOsKind } from '../src/os/linux/index.js'
import type { LinuxOs } from '../src/os/linux/index.js'
import { parseKindArgs } from '../src/tree/index.js'
import { lines, runCli, startDaemon } from './cli-kit.js'
import type { RunningDaemon } from './cli-kit.js'
import { linuxFixtures, NO_FIXTURES_REASON, openDump, silentLog, truthWithLateKernelThreads } from './linux-kit.js'
import type { LinuxFixture } from './linux-kit.js'

const run = promisify(execFile)

/** One x86-64 and one arm64 fixture (the walk is shared; both must hold). */
const FIXTURES = ['x86_64', 'aarch64']
  .map((arch) => linuxFixtures().find((f) => (f.truth.arch ?? 'x86_64') === arch && f.variant === 'vmcoreinfo'))
  .filter((f): f is LinuxFixture => f !== undefined)

interface Patch { readonly phys: bigint; readonly data: Uint8Array }
interface Victim { readonly pid: number; readonly comm: string; readonly task: bigint }

function u64(value: bigint): Uint8Array {
  const out = new Uint8Array(8)
  new DataView(out.buffer).setBigUint64(0, value, true)
  return out
}

function i32(value: number): Uint8Array {
  const out = new Uint8Array(4)
  new DataView(out.buffer).setInt32(0, value, true)
  return out
}

/** What memweave itself says about the clean dump: task addresses, field offsets, an unmapped kernel address. */
interface Facts {
  readonly victim: Victim
  /** The first task after init_task (a cycle's target). */
  readonly first: Victim
  readonly field: (name: string) => bigint
  readonly phys: (virt: bigint) => Promise<bigint>
  readonly nowhere: bigint
  readonly userPids: readonly number[]
  readonly allPids: readonly number[]
}

async function learn(os: LinuxOs, fixture: LinuxFixture): Promise<Facts> {
  const layout = os.kernel.btf.struct('task_struct')
  const field = (name: string): bigint => BigInt(layout.field(name).offsetBytes)
  const phys = async (virt: bigint): Promise<bigint> => {
    const [t] = await os.kernel.kmem.translate([virtAddr(virt)])
    assert.ok(t?.ok, `kmem maps 0x${virt.toString(16)}`)
    return t.phys
  }
  const victimPid = fixture.truth.testPids['beta']
  assert.ok(victimPid !== undefined)
  const victimProcess = await os.process(victimPid)
  assert.ok(victimProcess instanceof LinuxProcess)
  const victimTask = victimProcess.task
  const [head] = await os.kernel.kmem.read([{ addr: virtAddr(os.kernel.symbols.addr('init_task') + field('tasks')), length: 8 }])
  assert.ok(head?.ok)
  const firstTask = new DataView(head.data.buffer, head.data.byteOffset, 8).getBigUint64(0, true) - field('tasks')
  const refs = await os.processes()
  const firstPid = refs.find((r) => r.pid === 1)?.pid ?? 1
  // A kernel-half address nothing maps (an mm pointer to nowhere must not be a user pointer, which the walk would reject as such).
  const candidates = [0xffff800000000000n, 0xfffffe0000000000n, 0xffff7f0000000000n, 0xfffff00000000000n, 0xffffffffff000000n]
  const translated = await os.kernel.kmem.translate(candidates.map((c) => virtAddr(c)))
  const nowhere = candidates.find((_, i) => translated[i]?.ok === false)
  assert.ok(nowhere !== undefined, 'an unmapped kernel address')
  return {
    victim: { pid: victimPid, comm: victimTask.comm, task: victimTask.addr },
    first: { pid: firstPid, comm: 'init', task: firstTask },
    field, phys, nowhere,
    userPids: fixture.truth.processes.filter((p) => !p.kernelThread).map((p) => p.pid),
    allPids: truthWithLateKernelThreads(fixture.truth, refs).map((p) => p.pid),
  }
}

interface Case {
  readonly name: string
  readonly patches: (f: Facts) => Promise<Patch[]>
  /** pids that must be listed: all but these */
  readonly leftOut?: (f: Facts) => number[]
  readonly warning: RegExp
  /** The victim's damage note (undefined: the victim is left out, not flagged). */
  readonly damage?: RegExp
  /** Also check the `ps` table (one CLI run more). */
  readonly table?: boolean
}

const CASES: Case[] = [
  {
    name: 'tasks.next is not a pointer: the rest is read backwards',
    patches: async (f) => [{ phys: await f.phys(f.victim.task + f.field('tasks')), data: u64(0x4141414141414141n) }],
    warning: /task list: tasks\.next of task \d+ \(.*\) at 0x[0-9a-f]+ is 0x4141414141414141, not a kernel pointer; \d+ tasks were read forwards, the other \d+ were read backwards from init_task/,
    damage: /its tasks\.next is 0x4141414141414141, not a kernel pointer/,
    table: true,
  },
  {
    name: 'a cycle back to the first task: the walk stops, the rest is read backwards',
    patches: async (f) => [{ phys: await f.phys(f.victim.task + f.field('tasks')), data: u64(f.first.task + f.field('tasks')) }],
    warning: /tasks\.next of task \d+ .* leads back to 0x[0-9a-f]+, a task already listed \(a cycle that does not return to init_task\)/,
    damage: /a cycle that does not return to init_task/,
  },
  {
    name: 'a garbage pid: that task is left out, every other is listed',
    patches: async (f) => [
      { phys: await f.phys(f.victim.task + f.field('pid')), data: i32(-559038737) },
      { phys: await f.phys(f.victim.task + f.field('tgid')), data: i32(0x7fff1234) },
    ],
    leftOut: (f) => [f.victim.pid],
    warning: /task list: task_struct at 0x[0-9a-f]+ \(comm '.*'\) has implausible pid -559038737\/tgid 2147422772 .*; left out/,
  },
  {
    name: 'a garbage comm: listed with its bytes escaped and flagged',
    patches: async (f) => [{ phys: await f.phys(f.victim.task + f.field('comm')), data: new Uint8Array([0x01, 0xff, 0x41, 0x1b, 0x0a, 0x42, 0x80, 0x43, 0xfe, 0x44, 0x07, 0x45, 0x9c, 0x46, 0x08, 0x47]) }],
    warning: /task list: task \d+ at 0x[0-9a-f]+: comm is not NUL-terminated within 16 bytes/,
    damage: /^comm is not NUL-terminated within 16 bytes$/,
  },
  {
    name: 'an mm pointing nowhere: listed, flagged, not a kernel thread, maps refused with the reason',
    patches: async (f) => [{ phys: await f.phys(f.victim.task + f.field('mm')), data: u64(f.nowhere) }],
    warning: /^$/,
    damage: /^mm 0x[0-9a-f]+ cannot be read \(no memory, maps or arguments\)$/,
  },
]

for (const fixture of FIXTURES.length > 0 ? FIXTURES : [undefined]) {
  describe(`a damaged task list still opens (${fixture?.label ?? 'no fixture'})`, { skip: fixture === undefined ? NO_FIXTURES_REASON : false }, () => {
    let dir = ''
    let copy = ''
    let facts: Facts
    let daemon: RunningDaemon
    let url = ''
    let client: ProtocolClient
    let seq = 0

    before(async () => {
      const clean: Connector = await openDump(fixture!.dump)
      const os = await linuxOsKind.create(parseKindArgs(''), clean, { allowWrite: false, log: silentLog, parentLifetime: clean.lifetime, description: "os 'clean'" }) as LinuxOs
      try {
        facts = await learn(os, fixture!)
      } finally {
        await os.close()
        await clean.close()
      }
      dir = await mkdtemp(join(tmpdir(), 'mw-damaged-'))
      copy = join(dir, 'dump.elf')
      await run('cp', ['--sparse=always', fixture!.dump, copy])
      await chmod(copy, 0o600) // fixtures are 0400; the writable connector needs its owner to be able to write
      daemon = await startDaemon(['--listen', `unix:${join(dir, 'd.sock')}`, '--json', '--log-level', 'warn', '--allow-write', '--file-root', dir])
      url = `unix:${join(dir, 'd.sock')}`
      client = await connectClient(url)
    })

    after(async () => {
      await client?.disconnect()
      await daemon?.stop()
      if (dir !== '') await rm(dir, { recursive: true, force: true })
    })

    const control = (leaf: string, line: string): Promise<void> => writeLine(client, leaf, line)

    /** Writes bytes at physical addresses of the copy through a writable connector; returns what was there. */
    async function patch(patches: readonly Patch[]): Promise<Patch[]> {
      const name = `w${seq++}`
      await control('connector/new', `${name} file:${copy},writable=true`)
      const { handle } = await client.open(`connector/${name}/mem`)
      try {
        const before = await client.read(handle, patches.map((p) => ({ addr: p.phys, length: p.data.length })))
        const written = await client.write(handle, patches.map((p) => ({ addr: p.phys, data: p.data })))
        assert.ok(written.every((w) => w.ok), 'patches written')
        return patches.map((p, i) => {
          const old = before[i]
          assert.ok(old?.ok)
          return { phys: p.phys, data: old.data }
        })
      } finally {
        await client.close(handle)
        await control('connector/rm', name)
      }
    }

    for (const kind of CASES) {
      it(kind.name, async () => {
        const original = await patch(await kind.patches(facts))
        const name = `g${seq++}`
        try {
          await control('connector/new', `${name} file:${copy}`)
          await control('os/new', `${name} -c ${name} linux`)
          const info = await readJson(client, `os/${name}/info`) as { warnings: string[] }
          const warnings = info.warnings.filter((w) => w.startsWith('task list:'))
          if (kind.warning.source === '^$') assert.deepEqual(warnings, [], 'the list itself is whole')
          else assert.ok(warnings.some((w) => kind.warning.test(w)), `warnings: ${JSON.stringify(warnings)}`)

          const result = await runCli(['--daemon', url, 'ps', name, '--json'])
          assert.equal(result.code, 0, result.stderr)
          const ps = JSON.parse(result.stdout) as { pid: number; name: string; kernelThread: boolean; damage?: string[] }[]
          const leftOut = new Set(kind.leftOut?.(facts) ?? [])
          assert.deepEqual(ps.map((p) => p.pid), facts.allPids.filter((p) => !leftOut.has(p)), 'every readable task is listed')
          const victim = ps.find((p) => p.pid === facts.victim.pid)
          const flagged = ps.filter((p) => p.damage !== undefined)
          if (kind.damage === undefined) {
            assert.equal(victim, undefined)
            assert.deepEqual(flagged, [])
          } else {
            assert.ok(victim !== undefined)
            assert.deepEqual(flagged.map((p) => p.pid), [facts.victim.pid], 'only the victim is flagged')
            assert.ok(victim.damage?.some((d) => kind.damage!.test(d)), `damage: ${JSON.stringify(victim.damage)}`)
          }
          if (kind.table === true) {
            // The table a user reads: one more column, filled only on the damaged row.
            const table = lines((await runCli(['--daemon', url, 'ps', name])).stdout)
            const damage = ps.find((p) => p.pid === facts.victim.pid)?.damage?.[0] ?? '?'
            assert.match(table[0] ?? '', /\sCMDLINE\s+DAMAGE$/)
            const row = table.find((r) => r.startsWith(`${facts.victim.pid} `))
            assert.ok(row !== undefined && /\S/.test(row.slice(row.length - 20)), table.join('\n'))
            assert.ok(row.includes(damage.slice(0, 40)), `the victim's row shows its damage: ${row}`)
          }
          if (kind.name.startsWith('a garbage comm')) assert.match(victim?.name ?? '', /^\\x01\\xffA\\x1b\\x0aB\\x80C\\xfeD\\x07E\\x9cF\\x08G$/)
          if (kind.name.startsWith('an mm')) {
            assert.equal(victim?.kernelThread, false)
            await assert.rejects(readText(client, `os/${name}/processes/by-pid/${facts.victim.pid}/maps`),
              /is damaged, its maps cannot be read: mm 0x[0-9a-f]+ cannot be read/)
          }
          // The others read as before: one whole user process's maps.
          const other = facts.userPids.find((p) => p !== facts.victim.pid && p !== facts.first.pid) ?? 1
          assert.ok(lines(await readText(client, `os/${name}/processes/by-pid/${other}/maps`)).length > 3)
        } finally {
          await control('os/rm', name).catch(() => undefined)
          await control('connector/rm', name).catch(() => undefined)
          await patch(original)
        }
      })
    }
  })
}
