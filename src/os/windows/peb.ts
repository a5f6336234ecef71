/**
 * A process's PEB (x64), read through its own page tables:
 *
 *   PEB +0x10 ImageBaseAddress   +0x18 Ldr ─▶ PEB_LDR_DATA +0x10 InLoadOrderModuleList
 *       +0x20 ProcessParameters ─▶ +0x60 ImagePathName, +0x70 CommandLine (UNICODE_STRING)
 */
import { virtAddr } from '../../mem/index.js'
import type { VirtualMemory } from '../../mem/index.js'
import type { ModuleInfo } from '../os-model.js'
import { readLdrList } from './ldr-entries.js'
import { isUserAddress } from './process-ring.js'
import { readUnicodeStrings, unicodeStringAt } from './unicode-string.js'

export interface PebFacts {
  readonly imageBase: bigint
  readonly ldr: bigint
  readonly parameters: bigint
}

export async function readPeb(mem: VirtualMemory, peb: bigint): Promise<PebFacts | undefined> {
  const [r] = await mem.read([{ addr: virtAddr(peb), length: 0x28 }])
  if (r === undefined || !r.ok) return undefined
  const v = new DataView(r.data.buffer, r.data.byteOffset, 0x28)
  return { imageBase: v.getBigUint64(0x10, true), ldr: v.getBigUint64(0x18, true), parameters: v.getBigUint64(0x20, true) }
}

export async function readPebModules(mem: VirtualMemory, peb: bigint, what: string): Promise<ModuleInfo[]> {
  const facts = await readPeb(mem, peb)
  if (facts === undefined || !isUserAddress(facts.ldr)) return []
  return readLdrList(mem, facts.ldr + 0x10n, `${what} loader list (PEB.Ldr)`, isUserAddress)
}

/** ImagePathName and the command line split on spaces outside quotes; undefined parts when unreadable. */
export async function readProcessParameters(mem: VirtualMemory, peb: bigint): Promise<{ path: string | undefined; cmdline: string[] }> {
  const facts = await readPeb(mem, peb)
  if (facts === undefined || !isUserAddress(facts.parameters)) return { path: undefined, cmdline: [] }
  const [r] = await mem.read([{ addr: virtAddr(facts.parameters), length: 0x80 }])
  if (r === undefined || !r.ok) return { path: undefined, cmdline: [] }
  const v = new DataView(r.data.buffer, r.data.byteOffset, 0x80)
  const [path, line] = await readUnicodeStrings(mem, [unicodeStringAt(v, 0x60), unicodeStringAt(v, 0x70)])
  return { path, cmdline: line === undefined ? [] : splitCommandLine(line) }
}

export function splitCommandLine(line: string): string[] {
  const out: string[] = []
  for (const m of line.matchAll(/"([^"]*)"|(\S+)/g)) out.push(m[1] ?? m[2] ?? '')
  return out
}
