/**
 * The linux OS kind on a live QEMU guest through the qemu connector: OS open
 * (dtb scan, kallsyms, BTF, first task walk) without and with QMP (qmp=auto:
 * the page-table root from the vCPUs' CR3, no scan), a fresh process list, and
 * random 4 KiB virtual reads of a test program (directly and through a tree
 * handle, which re-reads the task to check it is alive), each
 * beside the qemu connector's physical 4 KiB reads of the very same pages in
 * the same run.
 *
 *   node --import tsx bench/linux-live.bench.ts [--name QEMU_NAME] [--seconds S]
 *
 * Without --name it boots the fixture guest (scripts/fixtures/run-guest.sh)
 * and stops it at the end. Needs root (reading /proc/PID/mem of QEMU).
 */
import { loadavg } from 'node:os'
import { physAddr, virtAddr } from '../src/mem/index.js'
import type { PhysAddr, VirtAddr } from '../src/mem/index.js'
import { LocalTreeClient } from '../src/net/local-client.js'
import { BUILTIN_CONNECTOR_KINDS, BUILTIN_MAPPINGS, BUILTIN_OS_KINDS, MemweaveNode } from '../src/node/index.js'
import { LIVE_CHECK_REUSE_MS } from '../src/os/linux/index.js'
import type { LinuxOs, LinuxProcess } from '../src/os/linux/index.js'
import { silentLog, startGuest, stopGuest } from '../test/qemu-guest-kit.js'
import type { GuestRun } from '../test/qemu-guest-kit.js'
import { emit, row } from './bench-report.js'
import type { BenchRow } from './bench-report.js'
import { median, rate } from './bench-stats.js'

const PAGE = 4096
const BATCH = 64
const ROUNDS = 5

function argValue(flag: string): string | undefined {
  const at = process.argv.indexOf(flag)
  return at < 0 ? undefined : process.argv[at + 1]
}

function assertOk(results: readonly { ok: boolean }[]): void {
  if (results.some((r) => !r.ok)) throw new Error('a benchmark read failed')
}

async function main(): Promise<void> {
  const durationMs = Number(argValue('--seconds') ?? 2) * 1000
  const named = argValue('--name')
  const guest: GuestRun | undefined = named === undefined ? await startGuest() : undefined
  const qemuName = named ?? guest!.name
  const node = new MemweaveNode({ allowWrite: false, log: silentLog, connectorKinds: BUILTIN_CONNECTOR_KINDS, osKinds: BUILTIN_OS_KINDS, mappings: BUILTIN_MAPPINGS })
  const client = new LocalTreeClient(node.tree)
  try {
    await node.newConnector(`vm qemu:name=${qemuName}`)
    const connector = node.store.connectors.get('vm')!.connector

    // OS open: three opens on the same running guest, each from nothing.
    const openMs: number[] = []
    for (let i = 0; i < 3; i++) {
      const started = performance.now()
      await node.newOs(`open${i} -c vm linux`)
      openMs.push(performance.now() - started)
      await node.store.removeOs(`open${i}`, true)
    }
    await node.newOs('g -c vm linux')
    const os = node.store.oses.get('g')!.os as LinuxOs
    const timings = (await os.info())['timingsMs'] as Record<string, number>

    // The same opens through a QMP connector (only when the QEMU has a QMP socket on its command line).
    const qmpOpenMs: number[] = []
    let qmpNote = 'no QMP socket on the QEMU command line: no qmp=auto row'
    try {
      await node.newConnector(`vmq qemu:name=${qemuName},qmp=auto`)
    } catch (err) {
      qmpNote = `qmp=auto failed (${err instanceof Error ? err.message : String(err)}): no qmp row`
    }
    if (node.store.connectors.get('vmq') !== undefined) {
      for (let i = 0; i < 3; i++) {
        const started = performance.now()
        await node.newOs(`qopen${i} -c vmq linux`)
        qmpOpenMs.push(performance.now() - started)
        if (i === 2) {
          const info = await node.store.oses.get(`qopen${i}`)!.os.info()
          qmpNote = `With qmp=auto: dtbSource '${String(info['dtbSource'])}', open phases (ms): ${Object.entries(info['timingsMs'] as Record<string, number>).map(([k, v]) => `${k} ${v}`).join(', ')}.`
        }
        await node.store.removeOs(`qopen${i}`, true)
      }
    }

    // A live listing always walks the task list; through the tree it adds only the names.
    const listMs: number[] = []
    const treeListMs: number[] = []
    let count = 0
    for (let i = 0; i < 20; i++) {
      let started = performance.now()
      count = (await os.processes()).length
      listMs.push(performance.now() - started)
      started = performance.now()
      await client.list('os/g/processes/by-pid')
      treeListMs.push(performance.now() - started)
    }

    // The test program: the first mw-pattern (alpha), its mapped user pages and the physical pages behind them.
    const ref = (await os.processes()).find((p) => p.name === 'mw-pattern')
    if (ref === undefined) throw new Error('no mw-pattern process in the guest')
    const program = (await os.process(ref.pid)) as LinuxProcess
    const pages: { virt: VirtAddr; phys: PhysAddr }[] = []
    for (const run of await program.physMaps()) {
      for (let off = 0n; off < run.sizeBytes; off += BigInt(PAGE)) pages.push({ virt: virtAddr(run.virt + off), phys: physAddr(run.phys + off) })
    }
    const pick = (): { virt: VirtAddr; phys: PhysAddr } => pages[Math.floor(Math.random() * pages.length)]!
    const { handle } = await client.open(`os/g/processes/by-pid/${ref.pid}/mem`)
    // Interleaved rounds, best of each: on a shared machine the load moves between consecutive measurements.
    const measures = {
      phys1: [1, async () => assertOk(await connector.mem.read([{ addr: pick().phys, length: PAGE }]))],
      virt1: [1, async () => assertOk(await program.mem.read([{ addr: pick().virt, length: PAGE }]))],
      tree1: [1, async () => assertOk(await client.read(handle, [{ addr: pick().virt, length: PAGE }]))],
      physN: [BATCH, async () => assertOk(await connector.mem.read(Array.from({ length: BATCH }, () => ({ addr: pick().phys, length: PAGE }))))],
      virtN: [BATCH, async () => assertOk(await program.mem.read(Array.from({ length: BATCH }, () => ({ addr: pick().virt, length: PAGE }))))],
      treeN: [BATCH, async () => assertOk(await client.read(handle, Array.from({ length: BATCH }, () => ({ addr: pick().virt, length: PAGE }))))],
      checks: [1, async () => { if (!(await os.checkTask(program.task)).alive) throw new Error('the test program exited') }],
    } satisfies Record<string, [number, () => Promise<void>]>
    const top: Record<keyof typeof measures, number> = { phys1: 0, virt1: 0, tree1: 0, physN: 0, virtN: 0, treeN: 0, checks: 0 }
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, [ops, fn]] of Object.entries(measures) as [keyof typeof measures, [number, () => Promise<void>]][]) {
        top[name] = Math.max(top[name], await rate(durationMs / ROUNDS, ops, fn))
      }
    }
    const { phys1, virt1, tree1, physN, virtN, treeN, checks } = top
    await client.close(handle)

    const physOne = { what: 'qemu connector, the same pages physically, one per call', value: phys1 }
    const physBatch = { what: `qemu connector, the same pages physically, ${BATCH} per call`, value: physN }
    const rows: BenchRow[] = [
      row('OS open on the live VM (dtb scan, kernel, kallsyms, BTF, first task walk)', median(openMs), 'ms', undefined, '< 2000 ms on 512 MiB'),
      ...(qmpOpenMs.length === 0 ? [] : [row('OS open on the live VM with qmp=auto (dtb from CR3 over QMP, no scan)', median(qmpOpenMs), 'ms', undefined, '< 2000 ms on 512 MiB')]),
      row(`process list, fresh walk (${count} processes)`, median(listMs), 'ms', undefined, '< 100 ms'),
      row('process list through the tree (os/g/processes/by-pid)', median(treeListMs), 'ms'),
      row(`random 4 KiB virtual reads of ${ref.name} (${pages.length} pages), one per call, process mem`, virt1, 'reads/s', physOne),
      row(`the same through a tree handle (task re-read at most every ${LIVE_CHECK_REUSE_MS} ms)`, tree1, 'reads/s', physOne),
      row(`random 4 KiB virtual reads, ${BATCH} per call, process mem`, virtN, 'reads/s', physBatch),
      row(`the same through a tree handle, ${BATCH} per call`, treeN, 'reads/s', physBatch),
      row('task liveness check (task_struct, list link and parent re-read)', checks, 'checks/s'),
    ]
    emit({
      bench: 'linux live (qemu)',
      description: `Linux guest on a running QEMU (${qemuName}) through the qemu connector, opened from memory alone; random reads of pid ${ref.pid} (${ref.name}), best of ${ROUNDS} interleaved rounds, beside physical reads of the same pages.`,
      rows,
      notes: [
        `Open phases of the kept OS (ms): ${Object.entries(timings).map(([k, v]) => `${k} ${v}`).join(', ')}; without QMP the dtb phase scans guest RAM for the page-table root (a live QEMU has no CPU-state notes).`,
        qmpNote,
        `A tree handle re-reads the task (two small kernel reads) before a call when its last positive check is over ${LIVE_CHECK_REUSE_MS} ms old, so an exited or replaced process is stale at once.`,
        `Load average during the run: ${loadavg().map((l) => l.toFixed(2)).join(' ')}.`,
      ],
    })
  } finally {
    await client.disconnect()
    await node.close()
    await stopGuest(guest)
  }
}

await main()
