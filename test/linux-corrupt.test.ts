/**
 * Broken guests fail fast with errors that say what is missing and where we
 * looked: a zeroed kallsyms region, a dump truncated before the kernel,
 * page tables that point into themselves; a task list that loops still opens
 * (see linux-damaged.test.ts for the other kinds of damage). The
 * corruption is an overlay on the real dump (PatchedMemory), or a small
 * truncated copy, so no 512 MiB file is copied.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile, open as openFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { Connector } from '../src/connectors/index.js'
import { MemweaveError } from '../src/errors/index.js'
import { physAddr, virtAddr } from '../src/mem/index.js'
import type { OsInstance } from '../src/os/index.js'
import { cr3TableAddress, linuxOsKind, qemuCpuStates } from '../src/os/linux/index.js'
import type { LinuxOs } from '../src/os/linux/index.js'
import { parseKindArgs } from '../src/tree/index.js'
import { linuxFixtures, NO_FIXTURES_REASON, openDump, patchedConnector, silentLog, truthWithLateKernelThreads } from './linux-kit.js'

const FIXTURE = linuxFixtures().find((f) => f.variant === 'vmcoreinfo') ?? linuxFixtures()[0]

function openLinux(connector: Connector, args = ''): Promise<OsInstance> {
  return linuxOsKind.create(parseKindArgs(args), connector, { allowWrite: false, log: silentLog, parentLifetime: connector.lifetime, description: "os 'broken'" })
}

function fails(kind: string, message: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof MemweaveError, `a MemweaveError, got ${String(err)}`)
    assert.equal(err.kind, kind, err.message)
    assert.match(err.message, message)
    return true
  }
}

async function physOf(os: LinuxOs, virt: bigint): Promise<bigint> {
  const [translation] = await os.kernel.kmem.translate([virtAddr(virt)])
  assert.ok(translation?.ok)
  return translation.phys
}

describe('broken linux guests fail fast with clear errors', { skip: FIXTURE === undefined ? NO_FIXTURES_REASON : false }, () => {
  let dump: Connector
  let good: LinuxOs
  let dir: string

  before(async () => {
    dump = await openDump(FIXTURE!.dump)
    good = await openLinux(dump) as LinuxOs
    dir = await mkdtemp(join(tmpdir(), 'mw-linux-broken-'))
  })

  after(async () => {
    await good.close()
    await dump.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('zeroed kallsyms tables: no token table, naming the image and how much was searched', async (t) => {
    const layout = (await good.info())['kallsyms'] as { names: string; tokenTable: string }
    const symbols = good.kernel.symbols
    // From the offsets table to past the token index: every kallsyms table.
    const start = BigInt(layout.names) - BigInt(symbols.size * 4 + 64)
    const end = BigInt(layout.tokenTable) + 4096n
    const patches: { addr: bigint; data: Uint8Array }[] = []
    for (let page = start & ~0xfffn; page < end; page += 4096n) patches.push({ addr: await physOf(good, page), data: new Uint8Array(4096) })
    const started = performance.now()
    await assert.rejects(openLinux(patchedConnector(dump, patches)),
      fails('not_found', /^kallsyms: no token table found in the kernel image at 0xffffffff[0-9a-f]+ \(searched \d+\.\d MiB.*\[linux open step 'kallsyms' failed after \d+ ms; open it with symbols=PATH/))
    t.diagnostic(`failed after ${Math.round(performance.now() - started)} ms`)
  })

  it('an unknown kallsyms layout (names that decode, offsets nowhere) fails in the kallsyms step, naming what it found and symbols=PATH', async (t) => {
    const layout = (await good.info())['kallsyms'] as { offsets: string; relativeBase?: string }
    const symbols = good.kernel.symbols
    // Zero the offsets and relative_base (nothing else): the names still decode, no address table fits.
    const start = BigInt(layout.offsets)
    const end = start + ((BigInt(symbols.size * 4) + 7n) & ~7n) + (layout.relativeBase === undefined ? 0n : 8n)
    const patches: { addr: bigint; data: Uint8Array }[] = []
    for (let at = start; at < end;) {
      const pageEnd = (at & ~0xfffn) + 4096n
      const to = pageEnd < end ? pageEnd : end
      patches.push({ addr: await physOf(good, at), data: new Uint8Array(Number(to - at)) })
      at = to
    }
    const started = performance.now()
    await assert.rejects(openLinux(patchedConnector(dump, patches)),
      fails('not_found', /^kallsyms: token table at 0x[0-9a-f]+ found, but no kallsyms_names\/num_syms\/offsets that decode with it \(\d+ names at 0x[0-9a-f]+ .*layouts tried: .*\[linux open step 'kallsyms' failed after \d+ ms; open it with symbols=PATH/))
    const elapsed = performance.now() - started
    t.diagnostic(`failed after ${Math.round(elapsed)} ms`)
  })

  it('a truncated ELF dump is refused by the connector; a raw dump cut before the kernel fails in the dtb phase', async (t) => {
    const truncatedElf = join(dir, 'truncated.elf')
    const source = await openFile(FIXTURE!.dump, 'r')
    try {
      const head = Buffer.alloc(16 << 20)
      await source.read(head, 0, head.length, 0)
      await writeFile(truncatedElf, head)
    } finally {
      await source.close()
    }
    await assert.rejects(openDump(truncatedElf), fails('malformed', /runs past the end of the file/))

    // The first 64 MiB of RAM as a raw image: page tables are there, the kernel (higher up) is not.
    const rawPath = join(dir, 'truncated.raw')
    const [low] = await dump.mem.read([{ addr: physAddr(0), length: 64 << 20 }])
    assert.ok(low?.ok)
    await writeFile(rawPath, low.data)
    const raw = await openDump(rawPath, ',format=raw')
    try {
      const started = performance.now()
      await assert.rejects(openLinux(raw), fails('not_found', /no page-table root maps a kernel image \(\d+ table candidates from 64 MiB scanned/))
      t.diagnostic(`raw: failed after ${Math.round(performance.now() - started)} ms`)
    } finally {
      await raw.close()
    }
  })

  it('page tables pointing into themselves: refused with dtb=, recovered by the scan without it', async (t) => {
    const cpu = qemuCpuStates(dump.hints.elfNotes ?? [])[0]
    assert.ok(cpu !== undefined)
    const roots = [...new Set([cr3TableAddress(cpu.cr3), cr3TableAddress(cpu.cr3) & ~0x1000n, BigInt(String((await good.info())['dtb']))])]
    const patches = []
    for (const root of roots) {
      const [page] = await dump.mem.read([{ addr: physAddr(root), length: 4096 }])
      assert.ok(page?.ok)
      const view = new DataView(page.data.buffer, page.data.byteOffset, 4096)
      for (let i = 0; i < 512; i++) {
        if ((view.getUint32(i * 8, true) & 1) !== 0) view.setBigUint64(i * 8, root | 0x63n, true)
      }
      patches.push({ addr: root, data: page.data })
    }
    const looping = patchedConnector(dump, patches)
    const started = performance.now()
    await assert.rejects(openLinux(looping, `dtb=0x${cpu.cr3.toString(16)}`),
      fails('not_found', /no page-table root maps a kernel image: argument dtb= 0x[0-9a-f]+ \(x86-64 4-level\): .*pointing into themselves/))
    t.diagnostic(`dtb=: failed after ${Math.round(performance.now() - started)} ms`)
    const recovered = await openLinux(looping)
    try {
      const info = await recovered.info()
      assert.match(String(info['dtbSource']), /physical memory scan/)
      const refs = await recovered.processes()
      assert.deepEqual(refs.map((p) => p.pid), truthWithLateKernelThreads(FIXTURE!.truth, refs).map((p) => p.pid))
    } finally {
      await recovered.close()
    }
  })

  it('a task list that loops back on itself (not to init_task) opens with the cycle reported, the rest read backwards', async () => {
    const tasksOffset = BigInt(good.kernel.btf.struct('task_struct').field('tasks').offsetBytes)
    const init = good.kernel.symbols.addr('init_task')
    const [head] = await good.kernel.kmem.read([{ addr: virtAddr(init + tasksOffset), length: 8 }])
    assert.ok(head?.ok)
    // init_task.tasks.next is the first task's list node; point that node's next at itself.
    const firstLink = new DataView(head.data.buffer, head.data.byteOffset, 8).getBigUint64(0, true)
    const link = new Uint8Array(8)
    new DataView(link.buffer).setBigUint64(0, firstLink, true)
    const looping = await openLinux(patchedConnector(dump, [{ addr: await physOf(good, firstLink), data: link }]))
    try {
      const warnings = (await looping.info())['warnings'] as string[]
      assert.ok(warnings.some((w) => /^task list: tasks\.next of task 1 \(.*\) at 0x[0-9a-f]+ leads back to 0x[0-9a-f]+, a task already listed \(a cycle that does not return to init_task\); 1 tasks were read forwards, the other \d+ were read backwards/.test(w)), warnings.join('\n'))
      const refs = await looping.processes()
      assert.deepEqual(refs.map((p) => p.pid), truthWithLateKernelThreads(FIXTURE!.truth, refs).map((p) => p.pid))
    } finally {
      await looping.close()
    }
  })
})
