/**
 * Walking a LIST_ENTRY ring (ActiveProcessLinks, PsLoadedModuleList,
 * the PEB loader lists) from its head: Flink after Flink until the head
 * comes back. Each entry's Blink must point at the entry before it; a
 * repeated entry (a cycle that skips the head), a non-canonical pointer or
 * a list longer than the bound fails with an error naming where.
 */
import { MemweaveError } from '../../errors/index.js'
import { hex, virtAddr } from '../../mem/index.js'
import type { VirtualMemory } from '../../mem/index.js'

export interface RingOptions {
  /** For errors: "process list (PsActiveProcessHead)". */
  readonly what: string
  readonly maxEntries: number
  /** Pointers must satisfy this (kernel half for kernel lists, user half for the PEB lists). */
  readonly validPointer: (addr: bigint) => boolean
}

export interface PartialRing {
  readonly entries: bigint[]
  /** Why the walk stopped before the head came back (an unreadable entry); undefined when complete. */
  readonly stopped: string | undefined
}

/**
 * Like walkRing, but an unreadable entry ends the walk instead of failing it
 * (a triage dump holds only some of the list): the entries read so far and
 * why it stopped. Cycles and bad links still fail.
 */
export async function walkRingPartly(mem: VirtualMemory, head: bigint, options: RingOptions): Promise<PartialRing> {
  const entries: bigint[] = []
  try {
    await walkRing(mem, head, options, entries)
    return { entries, stopped: undefined }
  } catch (err) {
    if (err instanceof MemweaveError && err.kind === 'io') return { entries, stopped: err.message }
    throw err
  }
}

/** The addresses of the LIST_ENTRY fields of every entry, head excluded, in list order. */
export async function walkRing(mem: VirtualMemory, head: bigint, options: RingOptions, entries: bigint[] = []): Promise<bigint[]> {
  const seen = new Set<bigint>()
  let previous = head
  let link = await readFlink(mem, head, options, 'its head')
  while (link !== head) {
    if (!options.validPointer(link)) throw new MemweaveError('os', 'malformed', `${options.what}: pointer ${hex(link)} after ${entries.length} entries is not a valid address`)
    if (seen.has(link)) throw new MemweaveError('os', 'malformed', `${options.what}: the list loops back to ${hex(link)} after ${entries.length} entries without returning to its head ${hex(head)}`)
    if (entries.length >= options.maxEntries) throw new MemweaveError('os', 'limit', `${options.what}: more than ${options.maxEntries} entries without returning to its head`)
    seen.add(link)
    const [r] = await mem.read([{ addr: virtAddr(link), length: 16 }])
    if (r === undefined || !r.ok) throw new MemweaveError('os', 'io', `${options.what}: cannot read entry ${entries.length} at ${hex(link)}`, { cause: r?.ok === false ? r.error : undefined })
    const v = new DataView(r.data.buffer, r.data.byteOffset, 16)
    const blink = v.getBigUint64(8, true)
    if (blink !== previous) throw new MemweaveError('os', 'malformed', `${options.what}: entry ${entries.length} at ${hex(link)} has Blink ${hex(blink)}, not the previous entry ${hex(previous)}`)
    entries.push(link)
    previous = link
    link = v.getBigUint64(0, true)
  }
  return entries
}

async function readFlink(mem: VirtualMemory, at: bigint, options: RingOptions, where: string): Promise<bigint> {
  const [r] = await mem.read([{ addr: virtAddr(at), length: 8 }])
  if (r === undefined || !r.ok) throw new MemweaveError('os', 'io', `${options.what}: cannot read ${where} at ${hex(at)}`, { cause: r?.ok === false ? r.error : undefined })
  return new DataView(r.data.buffer, r.data.byteOffset, 8).getBigUint64(0, true)
}

export function isKernelAddress(addr: bigint): boolean {
  return addr >= 0xffff800000000000n && addr <= 0xfffffffffffffff0n && addr % 8n === 0n
}

export function isUserAddress(addr: bigint): boolean {
  return addr > 0xffffn && addr < 0x800000000000n && addr % 8n === 0n
}
