/**
 * UNICODE_STRING (x64: u16 Length in bytes, u16 MaximumLength, pad, u64
 * Buffer) read in batches: the headers are parsed by the caller, and every
 * buffer is read in one batch here. A string whose buffer is not readable
 * comes back undefined.
 */
import { virtAddr } from '../../mem/index.js'
import type { VirtualMemory } from '../../mem/index.js'

export interface UnicodeStringRef {
  readonly lengthBytes: number
  readonly buffer: bigint
}

export const MAX_STRING_BYTES = 0x2000

export function unicodeStringAt(view: DataView, at: number): UnicodeStringRef {
  return { lengthBytes: view.getUint16(at, true), buffer: view.getBigUint64(at + 8, true) }
}

export async function readUnicodeStrings(mem: VirtualMemory, refs: readonly UnicodeStringRef[]): Promise<(string | undefined)[]> {
  const wanted = refs.map((r, i) => ({ r, i })).filter(({ r }) => r.lengthBytes > 0 && r.lengthBytes <= MAX_STRING_BYTES && r.buffer !== 0n)
  const out: (string | undefined)[] = refs.map((r) => (r.lengthBytes === 0 ? '' : undefined))
  if (wanted.length === 0) return out
  const results = await mem.read(wanted.map(({ r }) => ({ addr: virtAddr(r.buffer), length: r.lengthBytes & ~1 })))
  wanted.forEach(({ i }, k) => {
    const res = results[k]
    if (res?.ok === true) out[i] = Buffer.from(res.data).toString('utf16le')
  })
  return out
}
