/**
 * Last resort for the page-table root: scan physical memory for pages that
 * look like a Linux top-level table. Such a page has its last entry (the
 * kernel image, modules and fixmap live in the top 512 GiB) present, every
 * present entry pointing inside memory without the (reserved) large-page
 * bit, every absent entry zero, and a few present entries in the kernel
 * half. The scan is bounded by bytes and by time; callers verify candidates
 * by finding the kernel image through them.
 */
import type { PhysicalMemory } from '../../mem/index.js'
import { physAddr } from '../../mem/index.js'

export interface ScanOptions {
  readonly maxCandidates: number
  readonly timeBudgetMs: number
  readonly progress?: (fraction: number) => void
}

export interface ScanResult {
  readonly candidates: bigint[]
  readonly scannedBytes: number
  readonly timedOut: boolean
}

const PAGE_BYTES = 4096
const ENTRIES = 512
const CHUNK_BYTES = 8 * 1024 * 1024
const PRESENT = 1
const LARGE = 0x80
/** Physical address bits 12..51 of an entry: split as low-word bits 12..31 and high-word bits 0..19. */
const HIGH_ADDR_MASK = 0x000fffff
const MAX_KERNEL_HALF_PRESENT = 128

function looksLikeTopTable(view: DataView, at: number, maxPhys: number): boolean {
  const lastLow = view.getUint32(at + (ENTRIES - 1) * 8, true)
  if ((lastLow & PRESENT) === 0 || (lastLow & LARGE) !== 0) return false
  let kernelPresent = 0
  for (let i = 0; i < ENTRIES; i++) {
    const low = view.getUint32(at + i * 8, true)
    const high = view.getUint32(at + i * 8 + 4, true)
    if ((low & PRESENT) === 0) {
      if (low !== 0 || high !== 0) return false
      continue
    }
    if ((low & LARGE) !== 0) return false
    if ((high & HIGH_ADDR_MASK) * 2 ** 32 + (low >>> 12) * PAGE_BYTES >= maxPhys) return false
    if (i >= ENTRIES / 2) kernelPresent++
  }
  return kernelPresent >= 1 && kernelPresent <= MAX_KERNEL_HALF_PRESENT
}

export async function scanForTopTables(mem: PhysicalMemory, options: ScanOptions): Promise<ScanResult> {
  const maxAddress = mem.metadata().maxAddress
  const limit = Number(maxAddress > 1n << 40n ? 1n << 40n : maxAddress)
  const started = performance.now()
  const candidates: bigint[] = []
  let scanned = 0
  for (let chunk = 0; chunk < limit; chunk += CHUNK_BYTES) {
    if (performance.now() - started > options.timeBudgetMs) return { candidates, scannedBytes: scanned, timedOut: true }
    const length = Math.min(CHUNK_BYTES, limit - chunk)
    const [result] = await mem.read([{ addr: physAddr(chunk), length }])
    scanned += length
    options.progress?.(chunk / limit)
    if (result === undefined || !result.ok) continue
    const view = new DataView(result.data.buffer, result.data.byteOffset, result.data.byteLength)
    for (let at = 0; at + PAGE_BYTES <= result.data.length; at += PAGE_BYTES) {
      if (!looksLikeTopTable(view, at, limit)) continue
      candidates.push(BigInt(chunk + at))
      if (candidates.length >= options.maxCandidates) return { candidates, scannedBytes: scanned, timedOut: false }
    }
  }
  return { candidates, scannedBytes: scanned, timedOut: false }
}
