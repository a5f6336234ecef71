/**
 * Finding an arm64 kernel without symbols. Its image is loaded physically
 * contiguous and keeps the arm64 Image header (code0/"MZ", text_offset,
 * image_size, … "ARM\x64" at 0x38), so:
 *
 *   header    scan RAM for the header (64 KiB steps) ─▶ image physical start and size
 *   root      VMCOREINFO swapper_pg_dir - kimage_voffset, the dtb= argument, or
 *             table-looking pages inside the image itself (swapper_pg_dir lives there)
 *   mode      each AArch64 regime (granule, VA bits, 52-bit PA) is tried per root:
 *             a walk of the kernel VA window must map the image's first page
 *   base      that mapping's virtual address is _text under KASLR
 *
 * The result has the same shape as x86-64's findKernel, so kallsyms, BTF,
 * tasks, maps and modules run unchanged.
 */
import { AARCH64_MODES, walkMappings } from '../../arch/index.js'
import type { MappingRun, PageTableCache, PagingMode } from '../../arch/index.js'
import { MemweaveError } from '../../errors/index.js'
import { hex, physAddr, virtAddr } from '../../mem/index.js'
import type { PhysicalMemory } from '../../mem/index.js'
import type { KernelLocation } from './find-kernel.js'
import type { Vmcoreinfo } from './vmcoreinfo.js'

const HEADER_MAGIC = 0x644d5241 // "ARM\x64" at offset 0x38
const HEADER_STEP = 64 * 1024
const PROBES_PER_BATCH = 4096
/** Physical memory probed for the image header (RAM of arm64 machines starts low: virt at 1 GiB). */
const MAX_SCAN_BYTES = 1n << 40n
const MAX_IMAGE_BYTES = 256 * 1024 * 1024
const WINDOW_MAX_ENTRIES = 400_000
const MAX_ROOT_CANDIDATES = 48
/** The kernel image, modules and vmalloc live above the linear map: from _PAGE_END(48) up to the vmemmap. */
const WINDOW_START = 0xffff800000000000n
const WINDOW_END = 0xfffffc0000000000n

export interface Arm64Image {
  readonly phys: bigint
  readonly sizeBytes: bigint
  /** Page size the kernel was built for (header flags bits 1-2), when it says. */
  readonly pageBytes: number | undefined
}

/** Header flags bits 1-2: 1 = 4K, 2 = 16K, 3 = 64K pages (0 = unspecified). */
const HEADER_PAGE_SIZES = [undefined, 4096, 16384, 65536] as const

/** The physical kernel image: the first 64 KiB-aligned place in memory carrying the arm64 Image header (8-byte probes, batched). */
export async function findArm64Image(mem: PhysicalMemory): Promise<Arm64Image | undefined> {
  const maxAddress = mem.metadata().maxAddress
  const limit = maxAddress > MAX_SCAN_BYTES ? MAX_SCAN_BYTES : maxAddress
  for (let from = 0n; from < limit; from += BigInt(HEADER_STEP * PROBES_PER_BATCH)) {
    const addrs: bigint[] = []
    for (let at = from; at < limit && addrs.length < PROBES_PER_BATCH; at += BigInt(HEADER_STEP)) addrs.push(at)
    const probes = await mem.read(addrs.map((a) => ({ addr: physAddr(a + 0x38n), length: 4 })))
    for (let i = 0; i < addrs.length; i++) {
      const probe = probes[i]
      if (probe === undefined || !probe.ok || probe.data.length < 4) continue
      if (new DataView(probe.data.buffer, probe.data.byteOffset, 4).getUint32(0, true) !== HEADER_MAGIC) continue
      const at = addrs[i] ?? 0n
      const [header] = await mem.read([{ addr: physAddr(at + 0x10n), length: 16 }])
      if (header === undefined || !header.ok || header.data.length < 16) continue
      const view = new DataView(header.data.buffer, header.data.byteOffset, 16)
      const sizeBytes = view.getBigUint64(0, true)
      if (sizeBytes < 1n << 20n || sizeBytes > BigInt(MAX_IMAGE_BYTES)) continue
      return { phys: at, sizeBytes, pageBytes: HEADER_PAGE_SIZES[Number((view.getBigUint64(8, true) >> 1n) & 3n)] }
    }
  }
  return undefined
}

/** Pages of the image whose every entry is empty or a table descriptor, sparsest first (a root has few entries). */
async function rootsInImage(mem: PhysicalMemory, image: Arm64Image, maxPhys: bigint): Promise<bigint[]> {
  const [result] = await mem.read([{ addr: physAddr(image.phys), length: Number(image.sizeBytes) }])
  if (result === undefined || !result.ok) return []
  const view = new DataView(result.data.buffer, result.data.byteOffset, result.data.byteLength)
  const found: { at: bigint; present: number }[] = []
  for (let page = 0; page + 4096 <= result.data.length; page += 4096) {
    let present = 0
    let ok = true
    for (let i = 0; i < 512 && ok; i++) {
      const lo = view.getUint32(page + i * 8, true)
      const hi = view.getUint32(page + i * 8 + 4, true)
      if (lo === 0 && hi === 0) continue
      // a table descriptor: bits 1:0 = 11, an address inside RAM, no attribute bits but the table ones
      const address = BigInt(hi & 0xffff) * 0x100000000n + BigInt((lo & 0xfffff000) >>> 0)
      ok = (lo & 3) === 3 && address < maxPhys && address > 0n && (hi & 0x07f80000) === 0
      present++
    }
    if (ok && present > 0 && present <= 64) found.push({ at: image.phys + BigInt(page), present })
  }
  return found.sort((a, b) => a.present - b.present).slice(0, MAX_ROOT_CANDIDATES).map((f) => f.at)
}

function vmcoreinfoRoot(vmcoreinfo: Vmcoreinfo | undefined): bigint | undefined {
  const pgd = vmcoreinfo?.symbols.get('swapper_pg_dir')
  const voffset = vmcoreinfo?.numbers.get('kimage_voffset') ?? (vmcoreinfo?.raw.get('NUMBER(kimage_voffset)') !== undefined ? BigInt(vmcoreinfo.raw.get('NUMBER(kimage_voffset)') ?? '0') : undefined)
  return pgd === undefined || voffset === undefined ? undefined : BigInt.asUintN(64, pgd - voffset)
}

/** Regimes worth trying: the image header's page size (or VMCOREINFO's) and VA_BITS narrow them down. */
function modesFor(vmcoreinfo: Vmcoreinfo | undefined, image: Arm64Image): readonly PagingMode[] {
  const vaBits = vmcoreinfo?.numbers.get('VA_BITS')
  const page = image.pageBytes ?? vmcoreinfo?.pageSizeBytes
  if (image.pageBytes !== undefined) return AARCH64_MODES.filter((m) => m.pageBytes === page).sort((a, b) => Number(b.virtualBits === Number(vaBits)) - Number(a.virtualBits === Number(vaBits)))
  const preferred = AARCH64_MODES.filter((m) => (page === undefined || m.pageBytes === page) && (vaBits === undefined || m.virtualBits === Number(vaBits)))
  return [...preferred, ...AARCH64_MODES.filter((m) => !preferred.includes(m))]
}

/** With this root and regime, the runs of the image: the mapping of the image's first physical page and what follows it. */
async function imageThrough(mem: PhysicalMemory, root: bigint, mode: PagingMode, image: Arm64Image, cache: PageTableCache): Promise<{ base: bigint; runs: MappingRun[] } | string> {
  let walk
  try {
    walk = await walkMappings(mem, physAddr(root), mode, { start: WINDOW_START, end: WINDOW_END }, { maxEntries: WINDOW_MAX_ENTRIES, tableCache: cache })
  } catch (err) {
    if (err instanceof MemweaveError) return err.message
    throw err
  }
  const first = walk.runs.find((r) => r.phys <= image.phys && image.phys < r.phys + r.sizeBytes && !r.user)
  if (first === undefined) return `no mapping of the image's first page ${hex(image.phys)} (${walk.runs.length} runs${walk.truncated ? ', walk truncated' : ''})`
  const base = first.virt + (image.phys - first.phys)
  const end = base + image.sizeBytes
  const runs = walk.runs.filter((r) => r.virt + r.sizeBytes > base && r.virt < end).map((r) => {
    const cut = r.virt < base ? base - r.virt : 0n
    return { ...r, virt: virtAddr(r.virt + cut), phys: physAddr(r.phys + cut), sizeBytes: (r.virt + r.sizeBytes > end ? end : r.virt + r.sizeBytes) - (r.virt + cut) }
  })
  if (!runs.some((r) => r.executable)) return `the mapping at ${hex(base)} has no executable page`
  return { base, runs }
}

export async function findArm64Kernel(mem: PhysicalMemory, vmcoreinfo: Vmcoreinfo | undefined, dtbArg: bigint | undefined, cache: PageTableCache, known?: Arm64Image): Promise<KernelLocation> {
  const image = known ?? await findArm64Image(mem)
  if (image === undefined) throw new MemweaveError('os', 'not_found', `linux/arm64: no arm64 Image header ("ARM\\x64" at +0x38) in physical memory`)
  const maxPhys = mem.metadata().maxAddress
  const candidates: { root: bigint; source: string }[] = []
  if (dtbArg !== undefined) candidates.push({ root: dtbArg & 0x0000fffffffffffen, source: 'argument dtb=' })
  else {
    const fromVmcoreinfo = vmcoreinfoRoot(vmcoreinfo)
    if (fromVmcoreinfo !== undefined) candidates.push({ root: fromVmcoreinfo, source: 'VMCOREINFO swapper_pg_dir' })
    for (const root of await rootsInImage(mem, image, maxPhys)) if (root !== fromVmcoreinfo) candidates.push({ root, source: 'table scan of the kernel image' })
  }
  const modes = modesFor(vmcoreinfo, image)
  const refusals: string[] = []
  for (const { root, source } of candidates) {
    for (const mode of modes) {
      const found = await imageThrough(mem, root, mode, image, cache)
      if (typeof found !== 'string') return { dtb: root, mode, dtbSource: source, base: found.base, runs: found.runs }
      if (refusals.length < 6) refusals.push(`${source} ${hex(root)} (${mode.name}): ${found}`)
    }
  }
  throw new MemweaveError('os', 'not_found', `linux/arm64: image at physical ${hex(image.phys)} (${image.sizeBytes} bytes) found, but no page-table root maps it (${candidates.length} roots tried${refusals.length > 0 ? `; ${refusals.join('; ')}` : ''}); pass dtb=0x... if you know it`)
}
