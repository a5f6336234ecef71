/**
 * EPROCESS field offsets found from the data, without symbols:
 *
 *   links   ActiveProcessLinks: PsActiveProcessHead.Flink - System EPROCESS
 *           (PsInitialSystemProcess), or, with no such export, the offset at
 *           which the kernel DTB sits at +DirectoryTableBase and "System"
 *           follows; UniqueProcessId is the qword just before (System: 4)
 *   name    ImageFileName: where "System\0" lies in System's EPROCESS
 *   dtb     KPROCESS.DirectoryTableBase: the KDBG table, else 0x28 (x64)
 *   parent  InheritedFromUniqueProcessId: KDBG, else the first qword after
 *           the links that is 0 in System and a listed pid in some process
 *   peb     KDBG, else the first qword that is 0 in System and a page-aligned
 *           user address in most processes, whose PEB reads through the
 *           process's own page tables with a user-mode Ldr pointer
 *   vadRoot the first kernel pointer after the links, in every process with
 *           a PEB, from which the VAD tree (vad-tree.ts) covers the PEB page
 *
 * Every choice is checked on all processes of the ring; the facts say where
 * each offset came from.
 */
import { MemweaveError } from '../../errors/index.js'
import { hex, virtAddr } from '../../mem/index.js'
import type { VirtualMemory } from '../../mem/index.js'
import type { KdbgOffsets } from './kdbg.js'
import { isKernelAddress, isUserAddress } from './process-ring.js'
import { vadContains } from './vad-tree.js'

export interface EprocessLayout {
  readonly links: number
  readonly pid: number
  readonly name: number
  readonly dtb: number
  readonly parent: number | undefined
  readonly peb: number | undefined
  readonly vadRoot: number | undefined
  readonly sizeBytes: number
  readonly sources: Readonly<Record<string, string>>
}

/** One EPROCESS as read while deriving: its address and bytes. */
export interface EprocessBytes {
  readonly addr: bigint
  readonly bytes: Uint8Array
}

export const X64_DTB_OFFSET = 0x28
const NAME_BYTES = 15
/** Bytes read per EPROCESS when no KDBG gives the size: covers every field used here on Windows 10/11. */
export const DEFAULT_EPROCESS_BYTES = 0xc00
const SYSTEM_NAME = [0x53, 0x79, 0x73, 0x74, 0x65, 0x6d, 0x00]

function u64(b: Uint8Array, at: number): bigint {
  return at + 8 <= b.length ? new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(at, true) : -1n
}

export function imageFileName(bytes: Uint8Array, at: number): string {
  const raw = bytes.subarray(at, at + NAME_BYTES)
  const nul = raw.indexOf(0)
  return Buffer.from(raw.subarray(0, nul < 0 ? raw.length : nul)).toString('latin1')
}

function findSystemName(bytes: Uint8Array, from: number): number | undefined {
  for (let at = from; at + SYSTEM_NAME.length <= bytes.length; at++) {
    if (SYSTEM_NAME.every((c, k) => bytes[at + k] === c)) return at
  }
  return undefined
}

/**
 * Bytes [start, start+length) read page by page; absent pages read as zeros
 * (no field checked here is zero in a real EPROCESS). Only the page holding
 * `must` has to be there.
 */
async function readAround(kmem: VirtualMemory, start: bigint, length: number, must: bigint): Promise<Uint8Array> {
  const first = start - (start % 4096n)
  const pages = Math.ceil(Number(start - first + BigInt(length)) / 4096)
  const results = await kmem.read(Array.from({ length: pages }, (_, i) => ({ addr: virtAddr(first + BigInt(i * 4096)), length: 4096 })))
  const all = new Uint8Array(pages * 4096)
  results.forEach((r, i) => {
    const page = first + BigInt(i * 4096)
    if (r?.ok === true) { all.set(r.data, i * 4096); return }
    if (must >= page && must < page + 4096n) throw new MemweaveError('os', 'io', `windows: cannot read the first process list entry ${hex(must)}`, { cause: r?.ok === false ? r.error : undefined })
  })
  const from = Number(start - first)
  return all.subarray(from, from + length)
}

/**
 * ActiveProcessLinks offset and System's EPROCESS address, from the first
 * Flink of the list and (when exported) PsInitialSystemProcess.
 */
export async function locateSystemLinks(kmem: VirtualMemory, firstLink: bigint, systemEprocess: bigint | undefined, kernelDtb: bigint | undefined, dtbOffset: number):
Promise<{ links: number; system: bigint; how: string }> {
  if (systemEprocess !== undefined && firstLink > systemEprocess && firstLink - systemEprocess < 0x1000n) {
    return { links: Number(firstLink - systemEprocess), system: systemEprocess, how: 'PsActiveProcessHead.Flink - PsInitialSystemProcess' }
  }
  const span = 0x1000
  const around = await readAround(kmem, firstLink - BigInt(span), span + 0x800, firstLink)
  // The root that led to ntoskrnl may be any process's (a self-reference scan finds the first): try it, then any page-aligned DTB.
  for (const wanted of kernelDtb === undefined ? [undefined] : [kernelDtb, undefined]) {
    for (let links = 0x80; links < span; links += 8) {
      const base = span - links
      if (u64(around, base + links - 8) !== 4n) continue
      const dtb = u64(around, base + dtbOffset)
      if (wanted !== undefined && (dtb & ~0xfffn) !== (wanted & ~0xfffn)) continue
      if (wanted === undefined && (dtb === 0n || (dtb & 0xfffn) !== 0n)) continue
      if (findSystemName(around.subarray(0, base + DEFAULT_EPROCESS_BYTES), base + links) === undefined) continue
      return { links, system: firstLink - BigInt(links), how: `${wanted === undefined ? 'a page-aligned DTB' : 'the kernel DTB'} at +DirectoryTableBase and "System" after the links` }
    }
  }
  throw new MemweaveError('os', 'not_found', `windows: no EPROCESS layout fits the first process list entry ${hex(firstLink)} (no pid 4 before the links with the kernel DTB at +${hex(dtbOffset)})`)
}

export interface DeriveInput {
  readonly links: number
  readonly processes: readonly EprocessBytes[]
  readonly kdbg: KdbgOffsets | undefined
  readonly sizeBytes: number
  /** Reads a process's user memory through the page-table root in its EPROCESS. */
  readonly userSpace: (dtb: bigint) => VirtualMemory | undefined
}

export async function deriveLayout(input: DeriveInput): Promise<EprocessLayout> {
  const { links, processes, kdbg } = input
  const system = processes[0]
  if (system === undefined) throw new MemweaveError('os', 'not_found', 'windows: the process list is empty')
  const sources: Record<string, string> = { links: 'PsActiveProcessHead' }
  const pid = links - 8
  if (u64(system.bytes, pid) !== 4n) throw new MemweaveError('os', 'malformed', `windows: the first process's UniqueProcessId (+${hex(pid)}) is ${u64(system.bytes, pid)}, not 4 (System)`)
  const name = findSystemName(system.bytes, links + 16)
  if (name === undefined) throw new MemweaveError('os', 'not_found', `windows: no "System" ImageFileName in the first EPROCESS at ${hex(system.addr)}`)
  sources['name'] = '"System" in the first EPROCESS'
  const dtb = kdbg !== undefined && kdbg.eprocessDirectoryTableBase !== 0 ? kdbg.eprocessDirectoryTableBase : X64_DTB_OFFSET
  sources['dtb'] = dtb === X64_DTB_OFFSET && kdbg === undefined ? 'KPROCESS default (x64)' : 'KDBG'
  const taken = new Set([pid, links, links + 8, dtb])
  const parent = kdbg !== undefined && kdbg.eprocessParentCid !== 0 ? kdbg.eprocessParentCid : findParent(input, taken)
  sources['parent'] = kdbg !== undefined && kdbg.eprocessParentCid !== 0 ? 'KDBG' : parent === undefined ? 'not found' : 'data (0 in System, a listed pid elsewhere)'
  if (parent !== undefined) taken.add(parent)
  const peb = kdbg !== undefined && kdbg.eprocessPeb !== 0 ? kdbg.eprocessPeb : await findPeb(input, taken, dtb)
  sources['peb'] = kdbg !== undefined && kdbg.eprocessPeb !== 0 ? 'KDBG' : peb === undefined ? 'not found' : 'data (user PEB whose Ldr reads)'
  if (peb !== undefined) taken.add(peb)
  const vadRoot = peb === undefined ? undefined : await findVadRoot(input, taken, dtb, peb)
  sources['vadRoot'] = vadRoot === undefined ? 'not found' : 'data (a VAD tree covering the PEB)'
  checkNames(processes, name)
  return { links, pid, name, dtb, parent, peb, vadRoot, sizeBytes: input.sizeBytes, sources }
}

/** Every process name must be short printable ASCII: a wrong name offset shows at once. */
function checkNames(processes: readonly EprocessBytes[], at: number): void {
  for (const p of processes) {
    const n = imageFileName(p.bytes, at)
    if (n === '' || !/^[\x20-\x7e]+$/.test(n)) throw new MemweaveError('os', 'malformed', `windows: EPROCESS at ${hex(p.addr)} has no readable ImageFileName at +${hex(at)}`)
  }
}

function candidates(input: DeriveInput, taken: ReadonlySet<number>): number[] {
  const out: number[] = []
  for (let at = input.links + 16; at + 8 <= input.sizeBytes; at += 8) if (!taken.has(at)) out.push(at)
  return out
}

function findParent(input: DeriveInput, taken: ReadonlySet<number>): number | undefined {
  const [system, ...rest] = input.processes
  if (system === undefined || rest.length === 0) return undefined
  const pids = new Set(input.processes.map((p) => u64(p.bytes, input.links - 8)))
  return candidates(input, taken).find((at) => {
    if (u64(system.bytes, at) !== 0n) return false
    let listed = 0
    for (const p of rest) {
      const v = u64(p.bytes, at)
      if (v < 0n || v >= 1n << 20n || v % 4n !== 0n) return false
      if (v !== 0n && pids.has(v) && v !== u64(p.bytes, input.links - 8)) listed++
    }
    return listed > 0
  })
}

async function findPeb(input: DeriveInput, taken: ReadonlySet<number>, dtbAt: number): Promise<number | undefined> {
  const [system, ...rest] = input.processes
  if (system === undefined || rest.length === 0) return undefined
  for (const at of candidates(input, taken)) {
    if (u64(system.bytes, at) !== 0n) continue
    const values = rest.map((p) => u64(p.bytes, at))
    if (!values.every((v) => v === 0n || (isUserAddress(v) && (v & 0xfffn) === 0n))) continue
    if (values.filter((v) => v !== 0n).length * 2 < rest.length) continue
    // The PEB's Ldr (+0x18) must be a user pointer when read through the process's own tables.
    const probe = rest.find((p) => u64(p.bytes, at) !== 0n)
    const space = probe === undefined ? undefined : input.userSpace(u64(probe.bytes, dtbAt))
    if (probe === undefined || space === undefined) continue
    const [r] = await space.read([{ addr: virtAddr(u64(probe.bytes, at) + 0x18n), length: 8 }])
    if (r?.ok === true && isUserAddress(new DataView(r.data.buffer, r.data.byteOffset, 8).getBigUint64(0, true))) return at
  }
  return undefined
}

async function findVadRoot(input: DeriveInput, taken: ReadonlySet<number>, dtbAt: number, pebAt: number): Promise<number | undefined> {
  const withPeb = input.processes.filter((p) => u64(p.bytes, pebAt) !== 0n)
  const probe = withPeb[0]
  if (probe === undefined) return undefined
  const kernel = input.userSpace(u64(probe.bytes, dtbAt))
  if (kernel === undefined) return undefined
  for (const at of candidates(input, taken)) {
    if (!withPeb.every((p) => isKernelAddress(u64(p.bytes, at)))) continue
    if (await vadContains(kernel, u64(probe.bytes, at), u64(probe.bytes, pebAt))) return at
  }
  return undefined
}

/**
 * ActiveProcessLinks from a copied EPROCESS of System (a triage dump keeps
 * one): the offset whose Blink is the list head (System is the first
 * entry), with pid 4 just before.
 */
export function linksFromCopy(copy: Uint8Array, head: bigint): number | undefined {
  for (let at = 8; at + 16 <= copy.length; at += 8) {
    if (u64(copy, at + 8) === head && u64(copy, at - 8) === 4n && isKernelAddress(u64(copy, at))) return at
  }
  return undefined
}
