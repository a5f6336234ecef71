/**
 * arm64 beside x86-64 in one run: the same kernel release (Debian trixie's
 * 6.12) on both architectures, plain dumps (no VMCOREINFO: the page-table
 * root is found from memory alone), 512 MiB each. Per architecture: OS open,
 * a fresh process list, and translations per second of one test program's
 * pages (batches of 4096, without and with a page-table cache). The x86-64
 * row is the ceiling of its arm64 row.
 */
import { PageTableCache, translateBatch } from '../src/arch/index.js'
import { virtAddr } from '../src/mem/index.js'
import type { PhysAddr, VirtAddr } from '../src/mem/index.js'
import type { MemweaveNode } from '../src/node/index.js'
import type { LinuxOs, LinuxProcess } from '../src/os/linux/index.js'
import { linuxFixtures } from '../test/linux-kit.js'
import type { LinuxFixture } from '../test/linux-kit.js'
import { openOsNode } from '../test/tree-kit.js'
import { emit, row } from './bench-report.js'
import type { BenchRow } from './bench-report.js'
import { median, rate } from './bench-stats.js'

const plain = linuxFixtures().filter((f) => f.variant === 'plain')
const arm = plain.find((f) => f.truth.arch === 'aarch64')
const x86 = plain.find((f) => f.truth.arch !== 'aarch64' && arm !== undefined && f.release.split('-')[0] === arm.release.split('-')[0])
  ?? plain.find((f) => f.truth.arch !== 'aarch64' && !f.release.includes('cloud'))
if (arm === undefined || x86 === undefined) throw new Error('needs an x86-64 and an arm64 plain fixture: run bash scripts/fixtures/build-guests.sh')

async function openNode(fixture: LinuxFixture): Promise<{ node: MemweaveNode; os: LinuxOs; openMs: number }> {
  const { node, os, openMs } = await openOsNode({ connector: `dump file:${fixture.dump}`, os: 'g -c dump linux' })
  return { node, os: os as LinuxOs, openMs }
}

interface Figures { openMs: number; psMs: number; processes: number; cold: number; warm: number; pages: number }

async function measure(fixture: LinuxFixture): Promise<Figures> {
  const opens: number[] = []
  for (let i = 0; i < 3; i++) {
    const { node, openMs } = await openNode(fixture)
    opens.push(openMs)
    await node.close()
  }
  const { node, os } = await openNode(fixture)
  const ps: number[] = []
  for (let i = 0; i < 20; i++) {
    os.refresh()
    const start = performance.now()
    await os.processes()
    ps.push(performance.now() - start)
  }
  const refs = await os.processes()
  const pid = fixture.truth.testPids['alpha']
  const one = (pid === undefined ? undefined : await os.process(pid)) as LinuxProcess | undefined
  if (one?.dtb === undefined) throw new Error(`${fixture.label}: test program alpha not found`)
  const addrs: VirtAddr[] = []
  for (const run of await one.physMaps()) for (let off = 0n; off < run.sizeBytes; off += 4096n) addrs.push(virtAddr(run.virt + off))
  const batch = (): VirtAddr[] => Array.from({ length: 4096 }, () => virtAddr(addrs[Math.floor(Math.random() * addrs.length)]! + BigInt(Math.floor(Math.random() * 4096))))
  const kernel = os.kernel
  const dtb = one.dtb as PhysAddr
  const cold = await rate(1500, 4096, () => translateBatch(kernel.mem, dtb, kernel.mode, batch(), { upperDtb: kernel.dtb }))
  const tableCache = new PageTableCache()
  const warm = await rate(1500, 4096, () => translateBatch(kernel.mem, dtb, kernel.mode, batch(), { tableCache, upperDtb: kernel.dtb }))
  await node.close()
  return { openMs: median(opens), psMs: median(ps), processes: refs.length, cold, warm, pages: addrs.length }
}

const onX86 = await measure(x86)
const onArm = await measure(arm)
const rows: BenchRow[] = [
  row(`OS open, arm64 ${arm.label}`, onArm.openMs, 'ms', { what: `x86-64 ${x86.label}`, value: onX86.openMs }),
  row(`process list, fresh walk, arm64 (${onArm.processes} processes)`, onArm.psMs, 'ms', { what: `x86-64 (${onX86.processes} processes)`, value: onX86.psMs }),
  row(`translations, batches of 4096, no cache, arm64 (${onArm.pages} pages)`, onArm.cold, 'translations/s', { what: `x86-64 (${onX86.pages} pages)`, value: onX86.cold }),
  row('translations, batches of 4096, warm page-table cache, arm64', onArm.warm, 'translations/s', { what: 'x86-64', value: onX86.warm }),
]
emit({
  bench: 'linux-arch',
  description: `Linux on arm64 (${arm.label}) beside x86-64 (${x86.label}) in the same run, plain dumps opened from memory alone.`,
  rows,
  notes: ['ratio = arm64 / x86-64; for the ms rows a ratio above 1 means arm64 is slower', `arm64 paging: ${String(onArm.pages)} pages of test program alpha translated through its own TTBR0 tables`],
})
