/**
 * Where the kernel's page-table root (PML4, x86-64) may be, in the order it
 * is tried; the open keeps the first one through which ntoskrnl is found:
 *
 *   argument   dtb=0x..
 *   header     the crash dump's DirectoryTableBase
 *   low stub   the x64 PROCESSOR_START_BLOCK in the first 1 MiB: a page that
 *              starts with E9 ?? 06 00 01 00 00 00 (a jmp over the block),
 *              whose +0x70 is a kernel entry (0xfffff8.. & 3 == 0) and whose
 *              +0xa0 is the CR3 the processors were started with
 *   self-ref   a page one of whose kernel-half entries (256..511) points back
 *              at the page itself, present, writable and supervisor-only:
 *              Windows maps its page tables through such an entry
 */
import { physAddr } from '../../mem/index.js'
import type { PhysicalMemory } from '../../mem/index.js'

export interface RootCandidate {
  readonly dtb: bigint
  readonly source: string
}

const PAGE = 4096
const LOW_STUB_BYTES = 1 << 20
/** Pages read per batch by the self-reference scan. */
const SCAN_BATCH_PAGES = 512
const PFN_MASK = 0x000ffffffffff000n

export async function lowStubRoots(mem: PhysicalMemory): Promise<RootCandidate[]> {
  const max = Number(mem.metadata().maxAddress < BigInt(LOW_STUB_BYTES) ? mem.metadata().maxAddress : BigInt(LOW_STUB_BYTES))
  const pages = Array.from({ length: Math.floor(max / PAGE) - 1 }, (_, i) => ({ addr: physAddr((i + 1) * PAGE), length: PAGE }))
  if (pages.length <= 0) return []
  const results = await mem.read(pages)
  const out: RootCandidate[] = []
  results.forEach((r, i) => {
    if (r === undefined || !r.ok || r.data.length < 0xa8) return
    const v = new DataView(r.data.buffer, r.data.byteOffset, r.data.byteLength)
    if ((v.getBigUint64(0, true) & 0xffffffffffff00ffn) !== 0x00000001000600e9n) return
    if ((v.getBigUint64(0x70, true) & 0xfffff80000000003n) !== 0xfffff80000000000n) return
    const cr3 = v.getBigUint64(0xa0, true)
    if (cr3 === 0n || (cr3 & 0xfffn) !== 0n) return
    out.push({ dtb: cr3, source: `x64 low stub at ${`0x${((i + 1) * PAGE).toString(16)}`}` })
  })
  return out
}

/** True when the page is a PML4 that maps itself through a kernel-half entry. */
export function isSelfReferencingPml4(page: Uint8Array, pageAddr: bigint): number | undefined {
  const v = new DataView(page.buffer, page.byteOffset, page.byteLength)
  let selfIndex: number | undefined
  let kernelPresent = 0
  for (let i = 256; i < 512; i++) {
    const e = v.getBigUint64(i * 8, true)
    if ((e & 1n) === 0n) continue
    kernelPresent++
    if ((e & PFN_MASK) === pageAddr && (e & 2n) !== 0n && (e & 4n) === 0n) selfIndex = i
  }
  return selfIndex !== undefined && kernelPresent >= 2 ? selfIndex : undefined
}

/**
 * Pages that are self-referencing PML4s, in physical order, as a lazy
 * sequence: the open stops at the first one that leads to ntoskrnl.
 */
export async function* selfReferencingRoots(mem: PhysicalMemory, maxAddress: bigint): AsyncGenerator<RootCandidate> {
  const total = Number(maxAddress / BigInt(PAGE))
  for (let first = 0; first < total; first += SCAN_BATCH_PAGES) {
    const count = Math.min(SCAN_BATCH_PAGES, total - first)
    const pieces = Array.from({ length: count }, (_, i) => ({ addr: physAddr((first + i) * PAGE), length: PAGE }))
    const results = await mem.read(pieces)
    for (let i = 0; i < count; i++) {
      const r = results[i]
      if (r === undefined || !r.ok || r.data.length < PAGE) continue
      const addr = BigInt((first + i) * PAGE)
      const index = isSelfReferencingPml4(r.data, addr)
      if (index !== undefined) yield { dtb: addr, source: `self-referencing PML4 scan (entry ${index})` }
    }
  }
}
