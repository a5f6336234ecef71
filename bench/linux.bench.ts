/**
 * Linux guest benchmarks on the fixture dump (512 MiB, Debian 6.1, KASLR):
 * OS open (kallsyms + BTF + task walk), full process list, maps of every
 * process, random 4 KiB virtual reads and translations (batched and
 * single), each beside the physical-read figure of the same run.
 */
import { translateBatch, PageTableCache, VirtualAddressSpace } from '../src/arch/index.js'
import type { LinuxOs, LinuxProcess } from '../src/os/linux/index.js'
import { physAddr, virtAddr } from '../src/mem/index.js'
import type { PhysAddr, VirtAddr } from '../src/mem/index.js'
import type { MemweaveNode } from '../src/node/index.js'
import { linuxFixtures } from '../test/linux-kit.js'
import { openOsNode } from '../test/tree-kit.js'
import { emit, row } from './bench-report.js'
import type { BenchRow } from './bench-report.js'
import { median, rate } from './bench-stats.js'

const fixture = linuxFixtures().find((f) => f.variant === 'plain' && !f.release.includes('cloud')) ?? linuxFixtures()[0]
if (fixture === undefined) throw new Error('no guest fixtures: run bash scripts/fixtures/build-guests.sh')

async function openNode(): Promise<{ node: MemweaveNode; os: LinuxOs; openMs: number }> {
  const { node, os, openMs } = await openOsNode({ connector: `dump file:${fixture!.dump}`, os: 'g -c dump linux' })
  return { node, os: os as LinuxOs, openMs }
}

const rows: BenchRow[] = []
const openTimes: number[] = []
for (let i = 0; i < 3; i++) {
  const { node, openMs } = await openNode()
  openTimes.push(openMs)
  await node.close()
}
rows.push(row('OS open (dtb, kernel, kallsyms, BTF, first task walk)', median(openTimes), 'ms', undefined, '< 2000 ms on 512 MiB'))

const { node, os } = await openNode()
const listTimes: number[] = []
for (let i = 0; i < 20; i++) {
  os.refresh()
  const start = performance.now()
  await os.processes()
  listTimes.push(performance.now() - start)
}
const refs = await os.processes()
rows.push(row(`full process list, fresh walk (${refs.length} processes)`, median(listTimes), 'ms', undefined, '< 100 ms after open'))

const processes: LinuxProcess[] = []
for (const ref of refs) {
  const p = await os.process(ref.pid)
  if (p !== undefined) processes.push(p as LinuxProcess)
}
const mapsTimes: number[] = []
for (let i = 0; i < 5; i++) {
  os.refresh()
  const start = performance.now()
  for (const p of processes) await p.maps()
  mapsTimes.push(performance.now() - start)
}
rows.push(row(`maps of every process (${processes.length})`, median(mapsTimes), 'ms'))

// Random 4 KiB pages of user memory: every mapped page of every user process.
const target = processes.filter((p) => p.dtb !== undefined)
const pages: { proc: LinuxProcess; addr: VirtAddr; phys: PhysAddr }[] = []
for (const p of target) {
  for (const run of await p.physMaps()) {
    for (let off = 0n; off < run.sizeBytes && pages.length < 200_000; off += 4096n) pages.push({ proc: p, addr: virtAddr(run.virt + off), phys: physAddr(run.phys + off) })
  }
}
const pick = (): { proc: LinuxProcess; addr: VirtAddr; phys: PhysAddr } => pages[Math.floor(Math.random() * pages.length)]!
// The ceiling reads the very physical pages behind the virtual ones, so both coalesce alike.
const connector = node.store.connectors.get('dump')!.connector
const one = target.find((p) => p.ref.name.startsWith('mw-pattern')) ?? target[0]!
const onePhys = pages.filter((p) => p.proc === one).map((p) => p.phys)
const onePages = pages.filter((p) => p.proc === one).map((p) => p.addr)
const physBatched = await rate(1500, 256, () => connector.mem.read(Array.from({ length: 256 }, () => ({ addr: onePhys[Math.floor(Math.random() * onePhys.length)]!, length: 4096 }))))
const physSingle = await rate(1500, 1, () => connector.mem.read([{ addr: pick().phys, length: 4096 }]))
const virtBatched = await rate(1500, 256, () => one.mem.read(Array.from({ length: 256 }, () => ({ addr: onePages[Math.floor(Math.random() * onePages.length)]!, length: 4096 }))))
const virtSingle = await rate(1500, 1, () => pick().proc.mem.read([{ addr: pick().addr, length: 4096 }]))
rows.push(row(`random 4 KiB virtual reads of one process (${onePages.length} pages), batches of 256`, virtBatched, 'reads/s', { what: 'the same pages read physically, batches of 256', value: physBatched }))
rows.push(row('random 4 KiB virtual reads of all user pages, one per call', virtSingle, 'reads/s', { what: 'the same pages read physically, one per call', value: physSingle }))

// Translations: fresh caches so the walk itself is measured, then warm.
const kernel = os.kernel
const dtb = one.dtb as PhysAddr
const addrs = onePages.length > 0 ? onePages : pages.map((p) => p.addr)
const randomBatch = (n: number): VirtAddr[] => Array.from({ length: n }, () => virtAddr(addrs[Math.floor(Math.random() * addrs.length)]! + BigInt(Math.floor(Math.random() * 4096))))
const noCache = await rate(1500, 4096, () => translateBatch(kernel.mem, dtb, kernel.mode, randomBatch(4096)))
const tableCache = new PageTableCache()
const warm = await rate(1500, 4096, () => translateBatch(kernel.mem, dtb, kernel.mode, randomBatch(4096), { tableCache }))
const space = new VirtualAddressSpace(kernel.mem, dtb, kernel.mode)
const single = await rate(1500, 1, () => space.translate(randomBatch(1)))
rows.push(row('translations, batches of 4096, no cache', noCache, 'translations/s', undefined, '>= 1,000,000/s batched'))
rows.push(row('translations, batches of 4096, warm page-table cache', warm, 'translations/s', undefined, '>= 1,000,000/s batched'))
rows.push(row('translations, one per call (TLB + table cache)', single, 'translations/s'))
await node.close()

emit({
  bench: 'linux',
  description: `Linux guest ${fixture.label}: ${fixture.dump.split('/').pop() ?? ''} opened from memory alone (kallsyms + BTF), no symbol files.`,
  rows,
  notes: [`user pages sampled: ${pages.length} across ${target.length} processes; the physical ceiling reads random pages of the same dump in the same run`],
})
