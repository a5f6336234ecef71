/**
 * The process list of a Windows kernel: ActiveProcessLinks walked from
 * PsActiveProcessHead (process-ring.ts), every EPROCESS read in one batch,
 * the field offsets derived from them (eprocess-layout.ts), then one record
 * per process. A triage dump holds System's EPROCESS (a copy) but rarely
 * the next one: there the walk stops at the first absent entry and says so.
 */
import { VirtualAddressSpace } from '../../arch/index.js'
import { MemweaveError } from '../../errors/index.js'
import { hex, physAddr, readU64, virtAddr } from '../../mem/index.js'
import type { VirtualMemory } from '../../mem/index.js'
import { DEFAULT_EPROCESS_BYTES, X64_DTB_OFFSET, deriveLayout, imageFileName, linksFromCopy, locateSystemLinks } from './eprocess-layout.js'
import type { EprocessBytes, EprocessLayout } from './eprocess-layout.js'
import { isKernelAddress, walkRing, walkRingPartly } from './process-ring.js'
import type { WindowsKernel } from './windows-open.js'

export interface EprocessRecord {
  readonly addr: bigint
  readonly pid: number
  readonly ppid: number
  readonly name: string
  readonly dtb: bigint
  readonly peb: bigint
  readonly vadRoot: bigint
}

export interface ProcessTable {
  readonly layout: EprocessLayout
  readonly records: readonly EprocessRecord[]
  /** Why the list is incomplete (triage dumps); undefined when the ring closed. */
  readonly incomplete: string | undefined
}

/** More processes than Windows runs; a longer ring is corrupt. */
export const MAX_PROCESSES = 1 << 16
/** Enough for every EPROCESS field read here on Windows 10/11 x64 (VadRoot is the last, below 0x800). */
const MIN_EPROCESS_BYTES = 0x800

function u64(b: Uint8Array, at: number | undefined): bigint {
  if (at === undefined || at + 8 > b.length) return 0n
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(at, true)
}

export function userSpaceOf(kernel: WindowsKernel, dtb: bigint): VirtualMemory | undefined {
  if (kernel.mem === undefined || kernel.mode === undefined || dtb === 0n) return undefined
  const root = dtb & ~0xfffn
  if (root >= kernel.mem.metadata().maxAddress) return undefined
  return new VirtualAddressSpace(kernel.mem, physAddr(root), kernel.mode, { tableCache: kernel.tableCache ?? false })
}

export async function readProcessTable(kernel: WindowsKernel): Promise<ProcessTable> {
  const { kmem, processHead: head } = kernel
  const ring = { what: `process list (PsActiveProcessHead ${hex(head)})`, maxEntries: MAX_PROCESSES, validPointer: isKernelAddress }
  const firstLink = await readU64(kmem, virtAddr(head))
  const dtbOffset = kernel.kdbg?.offsets.eprocessDirectoryTableBase || X64_DTB_OFFSET
  const copy = kernel.triage?.process
  let links: number
  let system: bigint
  const fromCopy = copy === undefined ? undefined : linksFromCopy(copy, head)
  if (fromCopy !== undefined) {
    links = fromCopy
    system = firstLink - BigInt(fromCopy)
  } else {
    ({ links, system } = await locateSystemLinks(kmem, firstLink, kernel.systemEprocess, kernel.mem === undefined ? undefined : kernel.dtb, dtbOffset))
  }
  const walked = kernel.triage !== undefined ? await walkRingPartly(kmem, head, ring) : { entries: await walkRing(kmem, head, ring), stopped: undefined }
  const entries = walked.entries.length > 0 ? walked.entries : [firstLink]
  const sizeBytes = kernel.kdbg !== undefined && kernel.kdbg.offsets.sizeEprocess >= 0x200 ? kernel.kdbg.offsets.sizeEprocess : DEFAULT_EPROCESS_BYTES
  const results = await kmem.read(entries.map((e) => ({ addr: virtAddr(e - BigInt(links)), length: sizeBytes })))
  // Without a KDBG size the read may run past the EPROCESS into an absent page: read what Windows 10/11 fields need, zero-padded.
  const short = results.map((r, i) => ({ r, i })).filter(({ r }) => r?.ok !== true)
  if (short.length > 0 && sizeBytes > MIN_EPROCESS_BYTES) {
    const again = await kmem.read(short.map(({ i }) => ({ addr: virtAddr(entries[i]! - BigInt(links)), length: MIN_EPROCESS_BYTES })))
    short.forEach(({ i }, k) => {
      const r = again[k]
      if (r?.ok !== true) return
      const padded = new Uint8Array(sizeBytes)
      padded.set(r.data)
      results[i] = { ok: true, data: padded }
    })
  }
  const processes: EprocessBytes[] = []
  let stopped = walked.stopped
  for (let i = 0; i < entries.length; i++) {
    const addr = entries[i]! - BigInt(links)
    if (addr === system && copy !== undefined && fromCopy !== undefined) {
      const padded = new Uint8Array(sizeBytes)
      padded.set(copy.subarray(0, sizeBytes))
      processes.push({ addr, bytes: padded })
      continue
    }
    const r = results[i]
    if (r?.ok === true) { processes.push({ addr, bytes: r.data }); continue }
    const problem = `cannot read the EPROCESS at ${hex(addr)} (process ${i} of the list)`
    if (kernel.triage === undefined) throw new MemweaveError('os', 'io', `windows: ${problem}`, { cause: r?.ok === false ? r.error : undefined })
    stopped = `${problem}: its ${sizeBytes} bytes are not all among the dump's blocks`
    break
  }
  const layout = await deriveLayout({ links, processes, kdbg: kernel.kdbg?.offsets, sizeBytes, userSpace: (dtb) => userSpaceOf(kernel, dtb) })
  const records = processes.map((p): EprocessRecord => ({
    addr: p.addr,
    pid: Number(u64(p.bytes, layout.pid)),
    ppid: Number(u64(p.bytes, layout.parent)),
    name: imageFileName(p.bytes, layout.name),
    dtb: u64(p.bytes, layout.dtb),
    peb: u64(p.bytes, layout.peb),
    vadRoot: u64(p.bytes, layout.vadRoot),
  }))
  const pids = new Set<number>()
  for (const r of records) {
    if (pids.has(r.pid)) throw new MemweaveError('os', 'malformed', `windows: pid ${r.pid} appears twice in the process list (EPROCESS ${hex(r.addr)})`)
    pids.add(r.pid)
  }
  const incomplete = stopped === undefined ? undefined
    : `the process list stops after ${records.length} process(es): ${stopped} (a triage dump holds only some kernel memory)`
  return { layout, records, incomplete }
}
