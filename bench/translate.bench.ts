/**
 * Page-walk throughput on a seeded fake with 64k mapped 4 KiB pages (x86-64
 * 4-level, tables in a sparse in-memory physical memory). Measures
 * translations/s batched (1024 and 4096 random mapped addresses per batch)
 * with no caches, with a cold and a warm table-page cache, and with a warm
 * translation cache; single-address calls; and random 4 KiB virtual reads/s
 * through VirtualAddressSpace (next to the same reads straight from the
 * fake's physical memory, their ceiling). Prints one JSON object, rates per
 * wall second and per CPU second (steadier on a shared machine). Goal:
 * >= 1e6 translations/s batched.
 *
 *   node --import tsx bench/translate.bench.ts [--pages N] [--ms N]
 */
import { loadavg } from 'node:os'
import { PageTableCache, PageTranslator, TranslationCache, VirtualAddressSpace, X64_4LEVEL } from '../src/arch/index.js'
import { FakePageTables } from '../src/arch/testing.js'
import { physAddr, virtAddr } from '../src/mem/index.js'
import type { VirtAddr } from '../src/mem/index.js'
import { emit, row } from './bench-report.js'

function arg(name: string, fallback: number): number {
  const at = process.argv.indexOf(name)
  const value = at >= 0 ? Number(process.argv[at + 1]) : fallback
  return Number.isFinite(value) && value > 0 ? value : fallback
}

const PAGES = arg('--pages', 65536)
const RUN_MS = arg('--ms', 1000)

interface Rate {
  /** Operations per wall-clock second. */
  perSecond: number
  /** Operations per second of this process's CPU time (steadier on a shared machine). */
  perCpuSecond: number
}

/** Runs `step` (which does `opsPerStep` operations) until RUN_MS passed. */
async function rate(opsPerStep: number, step: () => Promise<unknown>): Promise<Rate> {
  for (let i = 0; i < 3; i++) await step() // warm-up (JIT, caches where the scenario keeps them)
  let ops = 0
  const started = performance.now()
  const cpuStart = process.cpuUsage()
  while (performance.now() - started < RUN_MS) {
    await step()
    ops += opsPerStep
  }
  const cpu = process.cpuUsage(cpuStart)
  return {
    perSecond: Math.round(ops / ((performance.now() - started) / 1000)),
    perCpuSecond: Math.round(ops / ((cpu.user + cpu.system) / 1e6)),
  }
}

const buildStarted = performance.now()
const fake = new FakePageTables(X64_4LEVEL, { seed: 1, noise: true, indexPools: [2, 16, 64, 512] })
const mapped = fake.populate(PAGES, { large: 0, huge: 0, runs: 0 })
const pages = fake.mappings().map((m) => m.virt)
const buildMs = Math.round(performance.now() - buildStarted)

function randomBatch(size: number): VirtAddr[] {
  return Array.from({ length: size }, () => virtAddr(pages[fake.int(pages.length)]! + BigInt(fake.int(4096))))
}

const batches = new Map<number, VirtAddr[][]>()
for (const size of [1024, 4096]) batches.set(size, Array.from({ length: 16 }, () => randomBatch(size)))
let turn = 0
const nextBatch = (size: number): VirtAddr[] => batches.get(size)![turn++ % 16]!

const results: Record<string, number | string | boolean | Rate | number[]> = { fakePages: mapped, tableFrames: fake.mem.frameCount, buildMs, loadAverage: loadavg() }

for (const size of [1024, 4096]) {
  const direct = new PageTranslator(fake.mem, fake.dtb, X64_4LEVEL)
  results[`batched${size}NoCache`] = await rate(size, () => direct.translate(nextBatch(size)))
  results[`batched${size}TableCacheCold`] = await rate(size, () =>
    new PageTranslator(fake.mem, fake.dtb, X64_4LEVEL, { tableCache: new PageTableCache({ maxEntries: 4096 }) }).translate(nextBatch(size)))
  // 4096 pages hold this fake's ~1800 tables: a warm cache is a full one.
  const tableWarm = new PageTranslator(fake.mem, fake.dtb, X64_4LEVEL, { tableCache: new PageTableCache({ maxEntries: 4096 }) })
  results[`batched${size}TableCacheWarm`] = await rate(size, () => tableWarm.translate(nextBatch(size)))
  const tlbWarm = new PageTranslator(fake.mem, fake.dtb, X64_4LEVEL, { tableCache: new PageTableCache(), translationCache: new TranslationCache({ maxEntries: 1 << 17 }) })
  await tlbWarm.translate(pages.map((p) => virtAddr(p)))
  results[`batched${size}TranslationCacheWarm`] = await rate(size, () => tlbWarm.translate(nextBatch(size)))
}

const singles = randomBatch(4096)
let single = 0
const nextSingle = (): VirtAddr[] => [singles[single++ % singles.length]!]
const singleDirect = new PageTranslator(fake.mem, fake.dtb, X64_4LEVEL)
results.singleNoCache = await rate(256, async () => { for (let i = 0; i < 256; i++) await singleDirect.translate(nextSingle()) })
const singleWarm = new PageTranslator(fake.mem, fake.dtb, X64_4LEVEL, { tableCache: new PageTableCache(), translationCache: new TranslationCache({ maxEntries: 1 << 17 }) })
await singleWarm.translate(pages.map((p) => virtAddr(p)))
results.singleTranslationCacheWarm = await rate(256, async () => { for (let i = 0; i < 256; i++) await singleWarm.translate(nextSingle()) })

const vas = new VirtualAddressSpace(fake.mem, fake.dtb, X64_4LEVEL, { translationCache: new TranslationCache({ maxEntries: 1 << 17 }) })
const readBatch = Array.from({ length: 1024 }, () => ({ addr: virtAddr(pages[fake.int(pages.length)]!), length: 4096 }))
// The ceiling: the same number of 4 KiB reads straight from the fake's physical memory.
const physBatch = readBatch.map((_, i) => ({ addr: physAddr(0x1_0000_0000n + BigInt(i) * 4096n), length: 4096 }))
results.physReads4kBatched1024PerS = await rate(1024, () => fake.mem.read(physBatch))
results.vasReads4kBatched1024PerS = await rate(1024, () => vas.read(readBatch))
results.vasReads4kSinglePerS = await rate(256, async () => { for (let i = 0; i < 256; i++) await vas.read([readBatch[i]!]) })
const unaligned = readBatch.map((p) => ({ addr: virtAddr(p.addr + 2048n), length: 4096 }))
results.vasReads4kUnalignedBatched1024PerS = await rate(1024, () => vas.read(unaligned))

const warm = results.batched4096TableCacheWarm
results.goalBatchedPerS = 1_000_000
results.goalMetWarmTableCache = typeof warm === 'object' && !Array.isArray(warm) && warm.perCpuSecond >= 1_000_000
process.stdout.write(`${JSON.stringify(results)}\n`)
const perS = (key: string): number => {
  const value = results[key]
  return typeof value === 'number' ? value : typeof value === 'object' && !Array.isArray(value) ? value.perSecond : Number.NaN
}
emit({
  bench: 'translate',
  description: `x86-64 4-level translation on a seeded fake with ${mapped} mapped 4 KiB pages (random addresses).`,
  rows: [
    row('translations, batches of 4096, no cache', perS('batched4096NoCache'), 'translations/s', undefined, '>= 1,000,000/s batched'),
    row('translations, batches of 4096, warm page-table cache', perS('batched4096TableCacheWarm'), 'translations/s', undefined, '>= 1,000,000/s batched'),
    row('translations, batches of 4096, warm translation cache', perS('batched4096TranslationCacheWarm'), 'translations/s'),
    row('translations, one per call, no cache', perS('singleNoCache'), 'translations/s'),
    row('translations, one per call, warm translation cache', perS('singleTranslationCacheWarm'), 'translations/s'),
    row('virtual 4 KiB reads, batches of 1024', perS('vasReads4kBatched1024PerS'), 'reads/s', { what: 'the same count of physical 4 KiB reads of the fake', value: perS('physReads4kBatched1024PerS') }),
    row('virtual 4 KiB reads, one per call', perS('vasReads4kSinglePerS'), 'reads/s'),
  ],
})
