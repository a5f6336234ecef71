/**
 * Opening a Windows guest from memory alone, phase by phase:
 *
 *   root      page-table root candidates (argument, dump header, x64 low stub,
 *             self-referencing PML4 scan) ─▶ the first through which ntoskrnl
 *             is found; a triage dump has no page tables: its blocks already
 *             are kernel virtual memory
 *   kernel    ntoskrnl by its PE image (find-ntoskrnl.ts) ─▶ exports
 *   kdbg      the debugger data block, plain (kdbg.ts) or encoded (kdbg-encoded.ts)
 *   lists     PsActiveProcessHead / PsLoadedModuleList: exports, else KDBG,
 *             else the dump header
 *   layout    EPROCESS offsets from the data (eprocess-layout.ts), checked on
 *             every process of the ring
 *
 * A failing phase names what was not found and where it looked.
 */
import { PageTableCache, validityFor, VirtualAddressSpace, X64_4LEVEL } from '../../arch/index.js'
import type { PagingMode } from '../../arch/index.js'
import type { Connector, WindowsDumpHints } from '../../connectors/index.js'
import { MemweaveError } from '../../errors/index.js'
import { hex, physAddr, readU64, virtAddr } from '../../mem/index.js'
import type { PhysicalMemory, VirtualMemory } from '../../mem/index.js'
import { findNtoskrnl } from './find-ntoskrnl.js'
import type { NtoskrnlImage } from './find-ntoskrnl.js'
import { decodeKdbg, readKdbgAt, scanForKdbg } from './kdbg.js'
import { scanForEncodedKdbg } from './kdbg-encoded.js'
import type { Kdbg } from './kdbg.js'
import { KernelVirtualView } from './kernel-virtual-view.js'
import { lowStubRoots, selfReferencingRoots } from './page-table-root.js'
import type { RootCandidate } from './page-table-root.js'

export interface WindowsOpenOptions {
  readonly dtb: bigint | undefined
  readonly progress?: (phase: string, fraction: number) => void
}

/** What the rest of the OS needs: memory views, the kernel image, list heads. */
export interface WindowsKernel {
  /** Physical memory; undefined for a triage dump. */
  readonly mem: PhysicalMemory | undefined
  readonly kmem: VirtualMemory
  readonly mode: PagingMode | undefined
  readonly dtb: bigint | undefined
  readonly tableCache: PageTableCache | undefined
  /** Undefined only for a triage dump without ntoskrnl's header page (the KDBG copy then names the base). */
  readonly ntoskrnl: NtoskrnlImage | undefined
  readonly kernelBase: bigint
  readonly kdbg: Kdbg | undefined
  readonly processHead: bigint
  readonly moduleList: bigint | undefined
  /** PsInitialSystemProcess, when exported and readable. */
  readonly systemEprocess: bigint | undefined
  readonly build: number | undefined
  readonly arch: string
  readonly triage: WindowsDumpHints['triage'] | undefined
}

export interface OpenedWindows {
  readonly kernel: WindowsKernel
  readonly facts: Record<string, unknown>
  readonly timingsMs: Record<string, number>
}

const TABLE_CACHE_PAGES = 8192

async function timed<T>(timings: Record<string, number>, phase: string, options: WindowsOpenOptions, run: () => Promise<T>): Promise<T> {
  options.progress?.(phase, 0)
  const started = performance.now()
  try {
    return await run()
  } finally {
    timings[phase] = Math.round((performance.now() - started) * 10) / 10
    options.progress?.(phase, 1)
  }
}

async function* rootCandidates(mem: PhysicalMemory, hints: WindowsDumpHints | undefined, options: WindowsOpenOptions): AsyncGenerator<RootCandidate> {
  if (options.dtb !== undefined) { yield { dtb: options.dtb, source: 'argument dtb=' }; return }
  if (hints !== undefined && hints.dtb !== 0n) yield { dtb: hints.dtb & ~0xfffn, source: 'crash dump header (DirectoryTableBase)' }
  for (const c of await lowStubRoots(mem)) yield c
  yield* selfReferencingRoots(mem, mem.metadata().maxAddress)
}

/** Tries roots until ntoskrnl is found through one; the error lists what was tried. */
async function findRoot(mem: PhysicalMemory, hints: WindowsDumpHints | undefined, hintBases: readonly bigint[], options: WindowsOpenOptions, tableCache: PageTableCache):
Promise<{ kmem: VirtualAddressSpace; root: RootCandidate; ntoskrnl: NtoskrnlImage }> {
  const tried: string[] = []
  for await (const root of rootCandidates(mem, hints, options)) {
    if (root.dtb >= mem.metadata().maxAddress) { tried.push(`${root.source} ${hex(root.dtb)}: outside memory`); continue }
    const kmem = new VirtualAddressSpace(mem, physAddr(root.dtb), X64_4LEVEL, { tableCache })
    const ntoskrnl = await findNtoskrnl(kmem, hintBases)
    if (ntoskrnl !== undefined) return { kmem, root, ntoskrnl }
    tried.push(`${root.source} ${hex(root.dtb)}: no ntoskrnl image mapped`)
    if (tried.length >= 64) break
  }
  const summary = tried.length === 0 ? 'no candidate root found (no dump header DTB, no x64 low stub in the first 1 MiB, no self-referencing PML4)' : tried.slice(0, 8).join('; ')
  throw new MemweaveError('os', 'not_found', `windows: no page-table root leads to ntoskrnl: ${summary}`)
}

async function exportedPointer(kmem: VirtualMemory, image: NtoskrnlImage | undefined, name: string): Promise<bigint | undefined> {
  const rva = image?.exports?.byName.get(name)
  if (rva === undefined) return undefined
  try {
    return await readU64(kmem, virtAddr((image?.base ?? 0n) + BigInt(rva)))
  } catch (err) {
    if (err instanceof MemweaveError) return undefined
    throw err
  }
}

function exportedAddress(image: NtoskrnlImage | undefined, name: string): bigint | undefined {
  const rva = image?.exports?.byName.get(name)
  return rva === undefined || image === undefined ? undefined : image.base + BigInt(rva)
}

async function readBuild(kmem: VirtualMemory, image: NtoskrnlImage | undefined, hints: WindowsDumpHints | undefined): Promise<number | undefined> {
  const at = exportedAddress(image, 'NtBuildNumber')
  if (at !== undefined) {
    const [r] = await kmem.read([{ addr: virtAddr(at), length: 4 }])
    if (r?.ok === true) return new DataView(r.data.buffer, r.data.byteOffset, 4).getUint32(0, true) & 0xffff
  }
  return hints?.build
}

async function findKdbg(kmem: VirtualMemory, image: NtoskrnlImage | undefined, hints: WindowsDumpHints | undefined): Promise<{ kdbg: Kdbg | undefined; note: string }> {
  const copy = hints?.triage?.debuggerData
  if (copy !== undefined) {
    const decoded = decodeKdbg(copy, hints?.kdDebuggerDataBlock, 'triage dump copy')
    if (decoded !== undefined) return { kdbg: decoded, note: 'triage dump copy' }
  }
  if (hints !== undefined && hints.kdDebuggerDataBlock !== 0n) {
    const at = await readKdbgAt(kmem, hints.kdDebuggerDataBlock, 'crash dump header KdDebuggerDataBlock')
    if (at !== undefined) return { kdbg: at, note: at.source }
  }
  if (image === undefined) return { kdbg: undefined, note: 'not found: no triage copy, and no ntoskrnl image to scan' }
  const scanned = await scanForKdbg(kmem, image.base, image.header)
  if (scanned !== undefined) return { kdbg: scanned, note: scanned.source }
  const encoded = await scanForEncodedKdbg(kmem, image.base, image.header)
  if (encoded !== undefined) return { kdbg: encoded, note: encoded.source }
  return { kdbg: undefined, note: 'not found, plain or encoded, in ntoskrnl\'s readable data sections; offsets come from the data' }
}

export async function openWindowsKernel(connector: Connector, options: WindowsOpenOptions): Promise<OpenedWindows> {
  const timings: Record<string, number> = {}
  const hints = connector.hints.windowsDump
  const triage = hints?.dumpType === 'triage'
  const arch = hints?.machine ?? 'x86_64'
  if (!triage && arch !== 'x86_64') {
    throw new MemweaveError('os', 'unsupported', `windows: ${arch} guests are supported only as triage dumps (kernel virtual blocks); their page tables are not walked (only x86-64 paging is implemented)`)
  }
  const hintBases = [...new Set([...(hints?.triage?.debuggerData !== undefined ? [decodeKdbg(hints.triage.debuggerData, undefined, '')?.kernBase ?? 0n] : []), ...(hints?.triage?.drivers.slice(0, 1).map((d) => d.base) ?? [])])].filter((b) => b !== 0n)
  let kmem: VirtualMemory
  let ntoskrnl: NtoskrnlImage | undefined
  let root: RootCandidate | undefined
  let tableCache: PageTableCache | undefined
  if (triage) {
    kmem = new KernelVirtualView(connector.mem)
    const found = await timed(timings, 'kernel', options, () => findNtoskrnl(kmem, hintBases))
    // Without the header page a triage dump still has its KDBG copy and driver list: go on, and say what is missing.
    if (found === undefined && hintBases.length === 0) throw new MemweaveError('os', 'not_found', 'windows: this triage dump holds neither ntoskrnl\'s PE header page nor a KDBG copy or driver list naming its base')
    ntoskrnl = found
  } else {
    tableCache = new PageTableCache({ maxEntries: TABLE_CACHE_PAGES, validity: validityFor(connector.mem.metadata()) })
    const cache = tableCache
    const found = await timed(timings, 'root', options, () => findRoot(connector.mem, hints, hintBases, options, cache))
    kmem = found.kmem
    ntoskrnl = found.ntoskrnl
    root = found.root
  }
  const { kdbg, note: kdbgNote } = await timed(timings, 'kdbg', options, () => findKdbg(kmem, ntoskrnl, hints))
  const processHead = exportedAddress(ntoskrnl, 'PsActiveProcessHead') ?? kdbg?.psActiveProcessHead ?? hints?.psActiveProcessHead
  if (processHead === undefined || processHead === 0n) {
    throw new MemweaveError('os', 'not_found', 'windows: PsActiveProcessHead is not known: ntoskrnl exports it on no readable page, no KDBG block was found and no dump header names it')
  }
  const moduleList = exportedAddress(ntoskrnl, 'PsLoadedModuleList') ?? kdbg?.psLoadedModuleList ?? (hints !== undefined && hints.psLoadedModuleList !== 0n ? hints.psLoadedModuleList : undefined)
  const systemEprocess = await exportedPointer(kmem, ntoskrnl, 'PsInitialSystemProcess')
  const build = await readBuild(kmem, ntoskrnl, hints)
  const kernelBase = ntoskrnl?.base ?? kdbg?.kernBase ?? hintBases[0] ?? 0n
  const kernel: WindowsKernel = {
    mem: triage ? undefined : connector.mem,
    kmem,
    mode: triage ? undefined : X64_4LEVEL,
    dtb: root?.dtb ?? (hints?.dtb !== undefined && hints.dtb !== 0n ? hints.dtb : undefined),
    tableCache,
    ntoskrnl,
    kernelBase,
    kdbg,
    processHead,
    moduleList,
    systemEprocess,
    build,
    arch,
    triage: hints?.triage,
  }
  const facts: Record<string, unknown> = {
    arch,
    build,
    kernelBase: hex(kernelBase),
    dtb: kernel.dtb === undefined ? undefined : hex(kernel.dtb),
    dtbSource: triage ? 'none: a triage dump holds kernel virtual blocks, no page tables (the header DTB is shown)' : root?.source,
    psActiveProcessHead: hex(processHead),
    psLoadedModuleList: moduleList === undefined ? undefined : hex(moduleList),
    psInitialSystemProcess: systemEprocess === undefined ? undefined : hex(systemEprocess),
    kdbgSource: kdbgNote,
    symbolSource: 'none (no PDB): ntoskrnl exports, KDBG and structure offsets found from data',
    crashDump: hints === undefined ? undefined : { dumpType: hints.dumpType, build: hints.build, bugcheckCode: `0x${hints.bugcheckCode.toString(16)}` },
  }
  return { kernel, facts, timingsMs: timings }
}
