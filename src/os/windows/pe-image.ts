/**
 * PE images read from memory (no file): the header page gives the machine,
 * SizeOfImage, the section table and the export directory; the exports are
 * then read from the mapped image in three batches (name pointers, names,
 * ordinals + functions). PE32 and PE32+ are both understood.
 *
 *   +0x3c e_lfanew ─▶ 'PE\0\0' | FileHeader (20) | OptionalHeader | sections (40 each)
 *   export directory: +0x0c Name, +0x14 NumberOfFunctions, +0x18 NumberOfNames,
 *                     +0x1c AddressOfFunctions, +0x20 AddressOfNames, +0x24 AddressOfNameOrdinals
 */
import { MemweaveError } from '../../errors/index.js'
import { hex, readExact, virtAddr } from '../../mem/index.js'
import type { VirtualMemory } from '../../mem/index.js'

export interface PeSection {
  readonly name: string
  readonly rva: number
  readonly virtualSize: number
  readonly rawSize: number
  readonly characteristics: number
}

export interface PeHeader {
  readonly machine: number
  readonly pe32Plus: boolean
  readonly timeDateStamp: number
  readonly sizeOfImage: number
  readonly sections: readonly PeSection[]
  readonly exportRva: number
  readonly exportSize: number
}

export interface PeExports {
  /** The DLL name the export directory records (ntoskrnl.exe). */
  readonly dllName: string
  readonly byName: ReadonlyMap<string, number>
}

export const HEADER_PAGE_BYTES = 4096
/** More exports than any image has (ntoskrnl: ~3,000); a count past this is not an export table. */
const MAX_EXPORTS = 65536
const MAX_NAME_BYTES = 128

function cstring(bytes: Uint8Array, at: number, max: number): string {
  let end = at
  while (end < bytes.length && end < at + max && bytes[end] !== 0) end++
  return Buffer.from(bytes.subarray(at, end)).toString('latin1')
}

/** The header of a PE image from its first page, or undefined when the page is not one. */
export function parsePeHeader(page: Uint8Array): PeHeader | undefined {
  if (page.length < 0x200 || page[0] !== 0x4d || page[1] !== 0x5a) return undefined
  const v = new DataView(page.buffer, page.byteOffset, page.byteLength)
  const pe = v.getUint32(0x3c, true)
  if (pe < 0x40 || pe + 24 + 0x70 > page.length || v.getUint32(pe, true) !== 0x4550) return undefined
  const sectionCount = v.getUint16(pe + 6, true)
  const optionalBytes = v.getUint16(pe + 20, true)
  const opt = pe + 24
  const magic = v.getUint16(opt, true)
  if (magic !== 0x20b && magic !== 0x10b) return undefined
  const pe32Plus = magic === 0x20b
  const dirs = opt + (pe32Plus ? 112 : 96)
  const dirCount = v.getUint32(opt + (pe32Plus ? 108 : 92), true)
  const table = opt + optionalBytes
  if (table + sectionCount * 40 > page.length || sectionCount > 96) return undefined
  const sections = Array.from({ length: sectionCount }, (_, i): PeSection => {
    const s = table + i * 40
    return { name: cstring(page, s, 8), virtualSize: v.getUint32(s + 8, true), rva: v.getUint32(s + 12, true), rawSize: v.getUint32(s + 16, true), characteristics: v.getUint32(s + 36, true) }
  })
  return {
    machine: v.getUint16(pe + 4, true),
    pe32Plus,
    timeDateStamp: v.getUint32(pe + 8, true),
    sizeOfImage: v.getUint32(opt + 56, true),
    sections,
    exportRva: dirCount > 0 && dirs + 8 <= page.length ? v.getUint32(dirs, true) : 0,
    exportSize: dirCount > 0 && dirs + 8 <= page.length ? v.getUint32(dirs + 4, true) : 0,
  }
}

/** The named exports of an image mapped at base (name → RVA). */
export async function readPeExports(mem: VirtualMemory, base: bigint, header: PeHeader): Promise<PeExports> {
  if (header.exportRva === 0 || header.exportSize < 40) throw new MemweaveError('os', 'not_found', `PE image at ${hex(base)} has no export directory`)
  const at = (rva: number): bigint => base + BigInt(rva)
  const dir = await readExact(mem, virtAddr(at(header.exportRva)), 40)
  const d = new DataView(dir.buffer, dir.byteOffset, 40)
  const functionCount = d.getUint32(0x14, true)
  const nameCount = d.getUint32(0x18, true)
  if (functionCount > MAX_EXPORTS || nameCount > functionCount) {
    throw new MemweaveError('os', 'malformed', `PE image at ${hex(base)}: export directory lists ${nameCount} names for ${functionCount} functions`)
  }
  const inImage = (rva: number, bytes: number): boolean => rva + bytes <= header.sizeOfImage
  const functionsRva = d.getUint32(0x1c, true)
  const namesRva = d.getUint32(0x20, true)
  const ordinalsRva = d.getUint32(0x24, true)
  if (!inImage(functionsRva, functionCount * 4) || !inImage(namesRva, nameCount * 4) || !inImage(ordinalsRva, nameCount * 2)) {
    throw new MemweaveError('os', 'malformed', `PE image at ${hex(base)}: export tables lie outside its ${header.sizeOfImage} bytes`)
  }
  const [names, ordinals, functions, dllName] = await mem.read([
    { addr: virtAddr(at(namesRva)), length: nameCount * 4 },
    { addr: virtAddr(at(ordinalsRva)), length: nameCount * 2 },
    { addr: virtAddr(at(functionsRva)), length: functionCount * 4 },
    { addr: virtAddr(at(d.getUint32(0x0c, true))), length: 64 },
  ])
  for (const [r, what] of [[names, 'name table'], [ordinals, 'ordinal table'], [functions, 'function table']] as const) {
    if (r === undefined || !r.ok) throw new MemweaveError('os', 'io', `PE image at ${hex(base)}: cannot read the export ${what}`, { cause: r?.ok === false ? r.error : undefined })
  }
  if (names?.ok !== true || ordinals?.ok !== true || functions?.ok !== true) throw new MemweaveError('os', 'internal', 'unreachable')
  const nv = new DataView(names.data.buffer, names.data.byteOffset, names.data.byteLength)
  const ov = new DataView(ordinals.data.buffer, ordinals.data.byteOffset, ordinals.data.byteLength)
  const fv = new DataView(functions.data.buffer, functions.data.byteOffset, functions.data.byteLength)
  const strings = await readNames(mem, Array.from({ length: nameCount }, (_, i) => at(nv.getUint32(i * 4, true))))
  const byName = new Map<string, number>()
  strings.forEach((name, i) => {
    const ordinal = ov.getUint16(i * 2, true)
    if (name === undefined || ordinal >= functionCount) return
    byName.set(name, fv.getUint32(ordinal * 4, true))
  })
  return { dllName: dllName?.ok === true ? cstring(dllName.data, 0, 64) : '', byName }
}

/**
 * NUL-terminated names, read up to their page's end first (the next page
 * may be absent), and the few that run on in a second batch.
 */
async function readNames(mem: VirtualMemory, addrs: readonly bigint[]): Promise<(string | undefined)[]> {
  const firstLength = (addr: bigint): number => Math.min(MAX_NAME_BYTES, HEADER_PAGE_BYTES - Number(addr % BigInt(HEADER_PAGE_BYTES)))
  const first = await mem.read(addrs.map((addr) => ({ addr: virtAddr(addr), length: firstLength(addr) })))
  const out: (string | undefined)[] = first.map((r) => (r?.ok === true && r.data.includes(0) ? cstring(r.data, 0, MAX_NAME_BYTES) : undefined))
  const again: { addr: bigint; i: number }[] = []
  first.forEach((r, i) => { if (out[i] === undefined && r?.ok === true && r.data.length < MAX_NAME_BYTES) again.push({ addr: addrs[i]!, i }) })
  if (again.length === 0) return out
  const second = await mem.read(again.map(({ addr }) => ({ addr: virtAddr(addr), length: MAX_NAME_BYTES })))
  again.forEach(({ i }, k) => {
    const r = second[k]
    if (r?.ok === true) out[i] = cstring(r.data, 0, MAX_NAME_BYTES)
  })
  return out
}
