/**
 * Opening a Linux guest from memory alone, phase by phase:
 *
 *   dtb       page-table root candidates (argument, QEMU CR3, VMCOREINFO, scan) ─▶ one that maps a kernel image
 *   kernel    the image's mapped runs in 0xffffffff80000000.. read in one batch (base = _text under KASLR)
 *   kallsyms  token table ─▶ names/offsets ─▶ every symbol (or a System.map / kallsyms file)
 *   btf       __start_BTF..__stop_BTF ─▶ parseBtf
 *   then      page_offset_base (direct map), init_top_pgt as the kernel's own root, release
 *
 * Each phase is timed and reported through the progress callback; a failing
 * phase throws an error that names what was not found and where it looked.
 */
import { readFile } from 'node:fs/promises'
import { PageTableCache, validityFor, VirtualAddressSpace } from '../../arch/index.js'
import type { Connector } from '../../connectors/index.js'
import { MemweaveError } from '../../errors/index.js'
import { hex, physAddr, readExact, readU64, virtAddr } from '../../mem/index.js'
import { dtbCandidates } from './dtb-candidates.js'
import { findKernel } from './find-kernel.js'
import type { KernelLocation } from './find-kernel.js'
import { loadKallsyms, REQUIRED_SYMBOLS, validateKallsyms } from './kallsyms.js'
import type { KallsymsLayout } from './kallsyms.js'
import { loadKernelBtf } from './kernel-btf.js'
import type { KernelContext } from './kernel-context.js'
import { readKernelImage } from './kernel-image.js'
import type { KernelImage } from './kernel-image.js'
import { parseSymbolFile } from './symbol-table.js'
import type { SymbolTable } from './symbol-table.js'
import { detectedLayouts, stepFailure } from './open-report.js'
import { findArm64Kernel } from './arm64-kernel.js'
import { arm64DirectMap, decideArch, LINK_TEXT } from './guest-arch.js'
import { parseVmcoreinfo } from './vmcoreinfo.js'
import type { Vmcoreinfo } from './vmcoreinfo.js'

export interface LinuxOpenOptions {
  readonly symbolsPath: string | undefined
  /** The symbols file's text, read by the caller under the access rules (linux-kind); else read here. */
  readonly symbolsText?: string
  readonly dtb: bigint | undefined
  /** arch= argument (x86_64 or arm64); detected from the data when absent. */
  readonly arch?: string
  readonly progress?: (phase: string, fraction: number) => void
}

export interface OpenedKernel {
  readonly kernel: KernelContext
  readonly facts: Record<string, unknown>
  readonly timingsMs: Record<string, number>
}

/** Direct-map base without RANDOMIZE_MEMORY (4-level / 5-level). */
const DEFAULT_DIRECT_MAP_4 = 0xffff888000000000n
const DEFAULT_DIRECT_MAP_5 = 0xff11000000000000n
const TABLE_CACHE_PAGES = 8192
const BANNER_BYTES = 512

async function timed<T>(timings: Record<string, number>, phase: string, options: LinuxOpenOptions, run: () => Promise<T>): Promise<T> {
  options.progress?.(phase, 0)
  const started = performance.now()
  try {
    return await run()
  } catch (err) {
    throw stepFailure(phase, err, performance.now() - started)
  } finally {
    timings[phase] = Math.round((performance.now() - started) * 10) / 10
    options.progress?.(phase, 1)
  }
}

async function loadSymbols(path: string | undefined, given: string | undefined, image: KernelImage | undefined, location: KernelLocation): Promise<{ table: SymbolTable; layout: KallsymsLayout | undefined }> {
  if (path !== undefined) {
    let text: string
    try {
      text = given ?? await readFile(path, 'utf8')
    } catch (err) {
      throw new MemweaveError('os', 'not_found', `linux: cannot read symbols file ${path}`, { cause: err })
    }
    const table = parseSymbolFile(text, path, location.base)
    const missing = [...REQUIRED_SYMBOLS, '__start_BTF', '__stop_BTF'].filter((name) => !table.has(name))
    if (missing.length > 0) throw new MemweaveError('os', 'not_found', `linux: symbols file ${path} lacks required symbols: ${missing.join(', ')}`)
    return { table, layout: undefined }
  }
  if (image === undefined) throw new MemweaveError('os', 'internal', 'kernel image not read')
  const kallsyms = loadKallsyms(image)
  validateKallsyms(kallsyms, image)
  return { table: kallsyms.table, layout: kallsyms.layout }
}

/** The kernel's own root (init_top_pgt), physical, if it maps _text where the first root did. */
async function ownRoot(kmem: VirtualAddressSpace, symbols: SymbolTable, location: KernelLocation): Promise<bigint | undefined> {
  const pgt = symbols.maybe('init_top_pgt') ?? symbols.maybe('swapper_pg_dir')
  if (pgt === undefined) return undefined
  const [own, text] = await kmem.translate([virtAddr(pgt), virtAddr(location.base)])
  if (own === undefined || !own.ok || text === undefined || !text.ok) return undefined
  const check = new VirtualAddressSpace(kmem.mem, own.phys, location.mode, { tableCache: kmem.tableCache ?? false, translationCache: false })
  const [again] = await check.translate([virtAddr(location.base)])
  return again !== undefined && again.ok && again.phys === text.phys ? own.phys : undefined
}

async function readRelease(kernel: KernelContext, vmcoreinfo: Vmcoreinfo | undefined): Promise<{ release: string | undefined; banner: string | undefined }> {
  const bannerBytes = await readExact(kernel.kmem, virtAddr(kernel.symbols.addr('linux_banner')), BANNER_BYTES)
  const end = bannerBytes.indexOf(0)
  const banner = Buffer.from(bannerBytes.subarray(0, end < 0 ? bannerBytes.length : end)).toString('utf8').trimEnd()
  if (!banner.startsWith('Linux version ')) throw new MemweaveError('os', 'malformed', `linux_banner at ${hex(kernel.symbols.addr('linux_banner'))} does not read "Linux version ..." (wrong symbols?)`)
  let release = /^Linux version (\S+)/.exec(banner)?.[1]
  const uts = kernel.symbols.maybe('init_uts_ns')
  if (uts !== undefined && kernel.btf.hasStruct('uts_namespace')) {
    const field = kernel.btf.struct('uts_namespace').field('name.release')
    const raw = await readExact(kernel.kmem, virtAddr(uts + BigInt(field.offsetBytes)), field.sizeBytes)
    const nul = raw.indexOf(0)
    const fromUts = Buffer.from(raw.subarray(0, nul < 0 ? raw.length : nul)).toString('utf8')
    if (fromUts !== '') release = fromUts
  }
  return { release: release ?? vmcoreinfo?.osRelease, banner }
}

/** Disagreements between independent sources; the memory-derived values are kept and these are reported in info. */
function crossCheck(location: KernelLocation, symbols: { table: SymbolTable; layout: KallsymsLayout | undefined }, vmcoreinfo: Vmcoreinfo | undefined, release: string | undefined, linkText: bigint): string[] {
  const warnings: string[] = []
  const text = symbols.table.maybe('_text') ?? symbols.table.maybe('_stext')
  if (text !== undefined && text !== location.base) warnings.push(`_text ${hex(text)} is not the first mapped kernel page ${hex(location.base)}`)
  const relativeBase = symbols.layout?.relativeBase
  if (relativeBase !== undefined && relativeBase !== location.base) warnings.push(`kallsyms_relative_base ${hex(relativeBase)} is not the kernel base ${hex(location.base)}`)
  if (vmcoreinfo?.kernelOffset !== undefined && linkText + vmcoreinfo.kernelOffset !== location.base) {
    warnings.push(`VMCOREINFO KERNELOFFSET ${hex(vmcoreinfo.kernelOffset)} puts _text at ${hex(linkText + vmcoreinfo.kernelOffset)}, memory says ${hex(location.base)}`)
  }
  if (vmcoreinfo?.osRelease !== undefined && release !== undefined && vmcoreinfo.osRelease !== release) {
    warnings.push(`VMCOREINFO OSRELEASE ${vmcoreinfo.osRelease} differs from the kernel's ${release}`)
  }
  return warnings
}

export async function openLinuxKernel(connector: Connector, options: LinuxOpenOptions): Promise<OpenedKernel> {
  const timings: Record<string, number> = {}
  const mem = connector.mem
  const vmcoreinfo = connector.hints.vmcoreinfo === undefined ? undefined : parseVmcoreinfo(connector.hints.vmcoreinfo)
  const tableCache = new PageTableCache({ maxEntries: TABLE_CACHE_PAGES, validity: validityFor(mem.metadata()) })
  const decided = await timed(timings, 'arch', options, () => decideArch(connector, vmcoreinfo, options.arch))
  const arm64 = decided.arch === 'arm64'
  const location = await timed(timings, 'dtb', options, () => arm64
    ? findArm64Kernel(mem, vmcoreinfo, options.dtb, tableCache, decided.image)
    : findKernel(mem, dtbCandidates(connector.hints, vmcoreinfo, options.dtb), {
      tableCache, allowScan: options.dtb === undefined, progress: (f) => options.progress?.('dtb', f),
    }))
  const image = options.symbolsPath !== undefined ? undefined : await timed(timings, 'kernel', options, () => readKernelImage(mem, location.runs))
  const symbols = await timed(timings, options.symbolsPath === undefined ? 'kallsyms' : 'symbols', options, () => loadSymbols(options.symbolsPath, options.symbolsText, image, location))
  let kmem = new VirtualAddressSpace(mem, physAddr(location.dtb), location.mode, { tableCache, upperDtb: physAddr(location.dtb) })
  const { btf, start: btfStart, sizeBytes: btfBytes } = await timed(timings, 'btf', options, () => loadKernelBtf(symbols.table, image, kmem))
  const root = await ownRoot(kmem, symbols.table, location)
  const dtb = root ?? location.dtb
  if (root !== undefined && root !== location.dtb) kmem = new VirtualAddressSpace(mem, physAddr(root), location.mode, { tableCache, upperDtb: physAddr(root) })
  const pageOffsetBase = symbols.table.maybe('page_offset_base')
  const linear = arm64 ? await arm64DirectMap(kmem, symbols.table) : undefined
  const directMapBase = linear !== undefined ? linear.base : pageOffsetBase !== undefined ? await readU64(kmem, virtAddr(pageOffsetBase))
    : location.mode.virtualBits > 48 ? DEFAULT_DIRECT_MAP_5 : DEFAULT_DIRECT_MAP_4
  const kernel: KernelContext = { mem, kmem, mode: location.mode, dtb: physAddr(dtb), symbols: symbols.table, btf, directMapBase, tableCache, ...(linear !== undefined ? { directMapPhys: linear.phys } : {}) }
  const { release, banner } = await readRelease(kernel, vmcoreinfo)
  const linkText = LINK_TEXT[decided.arch]
  const kaslrOffset = vmcoreinfo?.kernelOffset ?? location.base - linkText
  const warnings = crossCheck(location, symbols, vmcoreinfo, release, linkText)
  const facts: Record<string, unknown> = {
    release,
    banner,
    arch: arm64 ? 'aarch64' : 'x86_64',
    archSource: decided.why,
    pagingLevels: location.mode.levels.length,
    kaslrOffset: hex(kaslrOffset),
    kernelBase: hex(location.base),
    directMapBase: hex(directMapBase),
    dtb: hex(dtb),
    dtbSource: root !== undefined ? `init_top_pgt (found through ${location.dtbSource})` : location.dtbSource,
    symbolSource: options.symbolsPath === undefined ? 'kallsyms (memory)' : symbols.table.source,
    symbolCount: symbols.table.size,
    kallsyms: symbols.layout === undefined ? undefined : {
      names: hex(symbols.layout.names), tokenTable: hex(symbols.layout.tokenTable), offsets: hex(symbols.layout.offsets),
      order: symbols.layout.order, addressing: symbols.layout.addressing,
      relativeBase: symbols.layout.relativeBase === undefined ? undefined : hex(symbols.layout.relativeBase),
      seqsOfNames: symbols.layout.seqsOfNames === undefined ? undefined : hex(symbols.layout.seqsOfNames),
    },
    layouts: detectedLayouts(kernel, symbols.layout, location.mode.name),
    typeSource: 'BTF (memory)',
    types: btf.typeCount,
    btf: { start: hex(btfStart), sizeBytes: btfBytes },
    warnings,
    vmcoreinfo: vmcoreinfo === undefined ? undefined : { osRelease: vmcoreinfo.osRelease, kernelOffset: vmcoreinfo.kernelOffset === undefined ? undefined : hex(vmcoreinfo.kernelOffset) },
  }
  return { kernel, facts, timingsMs: timings }
}
