/**
 * Finding ntoskrnl in kernel virtual memory, by its PE image:
 *
 *   candidates  bases named by hints (KDBG KernBase, the triage driver list),
 *               then every 2 MiB-aligned mapped address in the kernel image
 *               range, then every mapped page start there (older kernels
 *               load on 4 KiB boundaries)
 *   identity    'MZ' + PE header of an x64 kernel image, and either an export
 *               directory naming ntoskrnl.exe / ntkrnlmp.exe, or (exports not
 *               readable, as in a triage dump) the kernel's section set
 *               (.text, PAGE, INIT, KDATA-like PAGEKD or .data)
 */
import { VirtualAddressSpace } from '../../arch/index.js'
import { hex, virtAddr } from '../../mem/index.js'
import type { VirtualMemory } from '../../mem/index.js'
import { HEADER_PAGE_BYTES, parsePeHeader, readPeExports } from './pe-image.js'
import type { PeExports, PeHeader } from './pe-image.js'

export interface NtoskrnlImage {
  readonly base: bigint
  readonly header: PeHeader
  readonly exports: PeExports | undefined
  /** Why exports are missing (e.g. the export pages are not in the dump). */
  readonly exportsProblem: string | undefined
  readonly identifiedBy: string
}

export const KERNEL_NAMES = ['ntoskrnl.exe', 'ntkrnlmp.exe', 'ntkrnlpa.exe', 'ntkrpamp.exe'] as const
const KERNEL_SECTIONS = ['.text', 'PAGE', 'INIT'] as const
/** Where x64 Windows loads ntoskrnl (KASLR included). */
export const KERNEL_IMAGE_RANGE = { start: 0xfffff80000000000n, end: 0xfffff80800000000n } as const
const MAX_PAGE_CANDIDATES = 1 << 17
const PAGE_2M = 1n << 21n

function hasKernelSections(header: PeHeader): boolean {
  const names = new Set(header.sections.map((s) => s.name))
  return KERNEL_SECTIONS.every((n) => names.has(n))
}

/** The image at base if it is ntoskrnl, else undefined. */
export async function identifyNtoskrnl(kmem: VirtualMemory, base: bigint, page: Uint8Array): Promise<NtoskrnlImage | undefined> {
  const header = parsePeHeader(page)
  if (header === undefined || !header.pe32Plus) return undefined
  let exports: PeExports | undefined
  let exportsProblem: string | undefined
  try {
    exports = await readPeExports(kmem, base, header)
  } catch (err) {
    exportsProblem = err instanceof Error ? err.message : String(err)
  }
  if (exports !== undefined && KERNEL_NAMES.some((n) => n === exports.dllName.toLowerCase())) {
    return { base, header, exports, exportsProblem, identifiedBy: `export directory name ${exports.dllName}` }
  }
  if (exports === undefined && hasKernelSections(header)) {
    return { base, header, exports, exportsProblem, identifiedBy: `section set (${KERNEL_SECTIONS.join(', ')}); exports unreadable` }
  }
  return undefined
}

async function tryBases(kmem: VirtualMemory, bases: readonly bigint[]): Promise<NtoskrnlImage | undefined> {
  if (bases.length === 0) return undefined
  const heads = await kmem.read(bases.map((b) => ({ addr: virtAddr(b), length: 2 })))
  const mz = bases.filter((_, i) => { const r = heads[i]; return r?.ok === true && r.data[0] === 0x4d && r.data[1] === 0x5a })
  if (mz.length === 0) return undefined
  const pages = await kmem.read(mz.map((b) => ({ addr: virtAddr(b), length: HEADER_PAGE_BYTES })))
  for (let i = 0; i < mz.length; i++) {
    const r = pages[i]
    if (r === undefined || !r.ok) continue
    const found = await identifyNtoskrnl(kmem, mz[i]!, r.data)
    if (found !== undefined) return found
  }
  return undefined
}

/** Finds ntoskrnl from hinted bases, then (with page tables) by scanning the kernel image range. */
export async function findNtoskrnl(kmem: VirtualMemory, hintBases: readonly bigint[]): Promise<NtoskrnlImage | undefined> {
  const hinted = await tryBases(kmem, hintBases)
  if (hinted !== undefined || !(kmem instanceof VirtualAddressSpace)) return hinted
  const walk = await kmem.mappings(KERNEL_IMAGE_RANGE, { maxEntries: 1 << 20 })
  const aligned: bigint[] = []
  const pages: bigint[] = []
  for (const run of walk.runs) {
    const end = run.virt + run.sizeBytes
    for (let a = ((run.virt + PAGE_2M - 1n) / PAGE_2M) * PAGE_2M; a < end; a += PAGE_2M) aligned.push(a)
    for (let a: bigint = run.virt; a < end && pages.length < MAX_PAGE_CANDIDATES; a += 4096n) pages.push(a)
  }
  return (await tryBases(kmem, aligned)) ?? tryBases(kmem, pages.filter((p) => p % PAGE_2M !== 0n))
}

export function ntoskrnlFacts(image: NtoskrnlImage): Record<string, unknown> {
  return {
    base: hex(image.base),
    sizeOfImage: hex(image.header.sizeOfImage),
    identifiedBy: image.identifiedBy,
    timeDateStamp: hex(image.header.timeDateStamp),
    exports: image.exports?.byName.size,
    exportsProblem: image.exportsProblem,
    sections: image.header.sections.map((s) => ({ name: s.name, rva: hex(s.rva), virtualSize: hex(s.virtualSize) })),
  }
}
