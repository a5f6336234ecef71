/**
 * Loader lists: the PEB's InLoadOrderModuleList (a process's DLLs) and
 * PsLoadedModuleList (drivers) share one entry layout on x64
 * (LDR_DATA_TABLE_ENTRY / KLDR_DATA_TABLE_ENTRY):
 *
 *   +0x00 InLoadOrderLinks  +0x30 DllBase  +0x40 u32 SizeOfImage
 *   +0x48 FullDllName       +0x58 BaseDllName   (UNICODE_STRING)
 *
 * The ring is walked (process-ring.ts), then every entry is read in one
 * batch and every name in another.
 */
import { MemweaveError } from '../../errors/index.js'
import { hex, virtAddr } from '../../mem/index.js'
import type { VirtualMemory } from '../../mem/index.js'
import type { ModuleInfo } from '../os-model.js'
import { walkRing } from './process-ring.js'
import { readUnicodeStrings, unicodeStringAt } from './unicode-string.js'

const ENTRY_BYTES = 0x68
export const MAX_LOADED_MODULES = 8192

export async function readLdrList(mem: VirtualMemory, head: bigint, what: string, validPointer: (addr: bigint) => boolean): Promise<ModuleInfo[]> {
  const entries = await walkRing(mem, head, { what, maxEntries: MAX_LOADED_MODULES, validPointer })
  const results = await mem.read(entries.map((e) => ({ addr: virtAddr(e), length: ENTRY_BYTES })))
  const views = entries.map((e, i) => {
    const r = results[i]
    if (r === undefined || !r.ok) throw new MemweaveError('os', 'io', `${what}: cannot read entry at ${hex(e)}`, { cause: r?.ok === false ? r.error : undefined })
    return new DataView(r.data.buffer, r.data.byteOffset, r.data.byteLength)
  })
  const full = await readUnicodeStrings(mem, views.map((v) => unicodeStringAt(v, 0x48)))
  const short = await readUnicodeStrings(mem, views.map((v) => unicodeStringAt(v, 0x58)))
  return views.map((v, i): ModuleInfo => {
    const path = full[i]
    const base = v.getBigUint64(0x30, true)
    const name = short[i] ?? (path !== undefined ? path.split('\\').pop() ?? path : `module@${hex(base)}`)
    return { name, base: virtAddr(base), sizeBytes: BigInt(v.getUint32(0x40, true)), path, extra: { entry: hex(entries[i]!) } }
  })
}
