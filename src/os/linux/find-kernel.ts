/**
 * Finding the kernel under KASLR: for each page-table root candidate (and
 * paging mode), enumerate the mappings of the kernel text window
 * 0xffffffff80000000..0xffffffffc0000000. Linux maps only its own image
 * there (head_64 clears the rest), so the lowest mapping is _text and the
 * runs are the image. A candidate is accepted when that window holds a
 * plausible image: supervisor pages, something executable, 2 MiB or more.
 */
import { walkMappings } from '../../arch/index.js'
import type { MappingRun, PageTableCache, PagingMode } from '../../arch/index.js'
import { MemweaveError } from '../../errors/index.js'
import { hex, physAddr } from '../../mem/index.js'
import type { PhysicalMemory } from '../../mem/index.js'
import { BOTH_MODES } from './dtb-candidates.js'
import type { DtbCandidate } from './dtb-candidates.js'
import { scanForTopTables } from './pml4-scan.js'
import { KERNEL_IMAGE_END, KERNEL_IMAGE_START } from './symbol-table.js'

export interface KernelLocation {
  readonly dtb: bigint
  readonly mode: PagingMode
  readonly dtbSource: string
  /** Virtual address of the image start (_text). */
  readonly base: bigint
  readonly runs: readonly MappingRun[]
}

const MIN_IMAGE_BYTES = 2n * 1024n * 1024n
/** Entries one window walk may visit: 1 GiB of 4 KiB pages plus their tables. */
const WINDOW_MAX_ENTRIES = 300_000
const SCAN_MAX_CANDIDATES = 64
const SCAN_TIME_BUDGET_MS = 8000

export interface FindKernelOptions {
  readonly tableCache: PageTableCache
  readonly allowScan: boolean
  readonly progress?: (fraction: number) => void
}

/** Why a candidate was refused, or undefined when the runs look like a kernel image. */
function refuseImage(runs: readonly MappingRun[]): string | undefined {
  if (runs.length === 0) return 'nothing mapped in the kernel text window'
  let total = 0n
  let executable = false
  for (const run of runs) {
    if (run.user) return `user-accessible page at ${hex(run.virt)} in the kernel text window`
    total += run.sizeBytes
    executable ||= run.executable
  }
  if (total < MIN_IMAGE_BYTES) return `only ${total} bytes mapped in the kernel text window`
  if (!executable) return 'no executable page in the kernel text window'
  const distinct = distinctPhysBytes(runs)
  if (distinct * 2n < total) return `the kernel text window maps ${total} bytes onto only ${distinct} distinct physical bytes (page tables pointing into themselves?)`
  return undefined
}

/** Bytes of physical memory the runs cover, each counted once (the image is mapped one-to-one). */
function distinctPhysBytes(runs: readonly MappingRun[]): bigint {
  const sorted = [...runs].sort((a, b) => (a.phys < b.phys ? -1 : a.phys > b.phys ? 1 : 0))
  let covered = 0n
  let reach = 0n
  for (const run of sorted) {
    const end = run.phys + run.sizeBytes
    if (end <= reach) continue
    covered += end - (run.phys > reach ? run.phys : reach)
    reach = end
  }
  return covered
}

async function tryCandidate(mem: PhysicalMemory, dtb: bigint, mode: PagingMode, cache: PageTableCache): Promise<{ runs: MappingRun[] } | { refused: string }> {
  try {
    const walk = await walkMappings(mem, physAddr(dtb), mode, { start: KERNEL_IMAGE_START, end: KERNEL_IMAGE_END }, { maxEntries: WINDOW_MAX_ENTRIES, tableCache: cache })
    if (walk.truncated) return { refused: `page-table walk of the kernel window stopped after ${walk.entriesVisited} entries (looping tables?)` }
    const refused = refuseImage(walk.runs)
    return refused === undefined ? { runs: walk.runs } : { refused }
  } catch (err) {
    if (err instanceof MemweaveError) return { refused: err.message }
    throw err
  }
}

export async function findKernel(mem: PhysicalMemory, candidates: readonly DtbCandidate[], options: FindKernelOptions): Promise<KernelLocation> {
  const refusals: string[] = []
  const attempt = async (candidate: DtbCandidate): Promise<KernelLocation | undefined> => {
    for (const mode of candidate.modes) {
      const outcome = await tryCandidate(mem, candidate.dtb, mode, options.tableCache)
      if ('runs' in outcome) {
        const first = outcome.runs[0]
        if (first !== undefined) return { dtb: candidate.dtb, mode, dtbSource: candidate.source, base: first.virt, runs: outcome.runs }
      } else {
        refusals.push(`${candidate.source} ${hex(candidate.dtb)} (${mode.name}): ${outcome.refused}`)
      }
    }
    return undefined
  }
  for (const candidate of candidates) {
    const found = await attempt(candidate)
    if (found !== undefined) return found
  }
  if (!options.allowScan) {
    throw new MemweaveError('os', 'not_found', `linux: no page-table root maps a kernel image: ${refusals.join('; ') || 'no candidates'}`)
  }
  const scan = await scanForTopTables(mem, { maxCandidates: SCAN_MAX_CANDIDATES, timeBudgetMs: SCAN_TIME_BUDGET_MS, progress: options.progress })
  for (const dtb of scan.candidates) {
    const found = await attempt({ dtb, modes: BOTH_MODES, source: 'physical memory scan' })
    if (found !== undefined) return found
  }
  const scanned = `${(scan.scannedBytes / 2 ** 20).toFixed(0)} MiB scanned${scan.timedOut ? ' before the time budget ran out' : ''}`
  throw new MemweaveError('os', 'not_found',
    `linux: no page-table root maps a kernel image (${scan.candidates.length} table candidates from ${scanned}${refusals.length > 0 ? `; ${refusals.slice(0, 4).join('; ')}` : ''}); pass dtb=0x... if you know it`)
}
