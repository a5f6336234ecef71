/**
 * An encoded KDBG block (live Windows 10+ keeps KdDebuggerDataBlock
 * encoded in place): every qword went through XORs with secret keys
 * (KiWaitNever, KiWaitAlways, the block's own address), a rotation and a
 * byte swap. All of these are linear over XOR, so whichever order Windows
 * uses, decoding one qword is
 *
 *   plain = L(encoded) ^ K,   L ∈ { bswap ∘ rol_r, rol_r ∘ bswap },  r ∈ 0..63
 *
 * with one constant K for the whole block. The keys themselves are not
 * needed: the header qword at +0x10 ('KDBG' tag, size) and KernBase at
 * +0x18 (ntoskrnl's base) are known, so L(e10 ^ e18) = p10 ^ p18 picks L
 * and r (a false match has odds of about 2^-54 per position), and
 * K = p10 ^ L(e10). The decoded block must then name PsActiveProcessHead
 * inside the ntoskrnl image.
 */
import { virtAddr } from '../../mem/index.js'
import type { VirtualMemory } from '../../mem/index.js'
import { decodeKdbg, KDBG_TAG } from './kdbg.js'
import type { Kdbg } from './kdbg.js'
import type { PeHeader } from './pe-image.js'

const MASK = (1n << 64n) - 1n
/** KDDEBUGGER_DATA64 sizes written by Windows versions from Vista to 11. */
const KNOWN_SIZES = [0x330, 0x338, 0x340, 0x348, 0x350, 0x358, 0x360, 0x368, 0x370, 0x378, 0x380, 0x388, 0x390, 0x398, 0x3a0] as const

export function rol(x: bigint, r: number): bigint {
  const n = BigInt(r & 63)
  return n === 0n ? x : ((x << n) | (x >> (64n - n))) & MASK
}

export function bswap(x: bigint): bigint {
  let out = 0n
  for (let i = 0; i < 8; i++) out = (out << 8n) | ((x >> BigInt(i * 8)) & 0xffn)
  return out
}

interface Form {
  readonly apply: (x: bigint) => bigint
  readonly size: number
}

/** For every (size, form, r): the value e10 ^ e18 must have, mapped to the form that decodes it. */
function candidateTable(base: bigint): Map<bigint, Form> {
  const table = new Map<bigint, Form>()
  for (const size of KNOWN_SIZES) {
    const target = (BigInt(KDBG_TAG) | (BigInt(size) << 32n)) ^ base
    for (let r = 0; r < 64; r++) {
      // L1 = bswap ∘ rol_r: L1(x) = t ⇔ x = rol_-r(bswap(t)); L2 = rol_r ∘ bswap: x = bswap(rol_-r(t)).
      table.set(rol(bswap(target), 64 - r), { apply: (x) => bswap(rol(x, r)), size })
      table.set(bswap(rol(target, 64 - r)), { apply: (x) => rol(bswap(x), r), size })
    }
  }
  return table
}

function decodeAt(data: Uint8Array, at: number, form: Form, base: bigint, address: bigint): Kdbg | undefined {
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength)
  if (at + form.size > data.length) return undefined
  const p10 = BigInt(KDBG_TAG) | (BigInt(form.size) << 32n)
  const k = p10 ^ form.apply(v.getBigUint64(at + 0x10, true))
  const plain = new Uint8Array(form.size)
  const out = new DataView(plain.buffer)
  for (let q = 0; q + 8 <= form.size; q += 8) out.setBigUint64(q, form.apply(v.getBigUint64(at + q, true)) ^ k, true)
  const kdbg = decodeKdbg(plain, address, 'encoded block in ntoskrnl data, decoded by known plaintext (header and KernBase)')
  return kdbg !== undefined && kdbg.kernBase === base ? kdbg : undefined
}

/** Scans ntoskrnl's writable sections for an encoded block; undefined when none decodes. */
export async function scanForEncodedKdbg(kmem: VirtualMemory, base: bigint, header: PeHeader): Promise<Kdbg | undefined> {
  const table = candidateTable(base)
  const end = base + BigInt(header.sizeOfImage)
  for (const section of header.sections.filter((s) => (s.characteristics & 0x80000000) !== 0 && s.virtualSize > 0)) {
    const start = base + BigInt(section.rva)
    // The section read in one piece when possible; pieces of a page where not, so an absent page hides only itself.
    const pages = Array.from({ length: Math.ceil(section.virtualSize / 4096) }, (_, i) => ({ addr: virtAddr(start + BigInt(i * 4096)), length: 4096 }))
    const results = await kmem.read(pages)
    for (let p = 0; p < pages.length; p++) {
      const r = results[p]
      if (r === undefined || !r.ok) continue
      // A block may run into the next page: decode from the joined pages.
      const next = results[p + 1]
      const data = next?.ok === true ? Buffer.concat([r.data, next.data]) : r.data
      const v = new DataView(data.buffer, data.byteOffset, data.byteLength)
      for (let at = 0; at + 0x20 <= 4096 && at + 0x20 <= data.length; at += 8) {
        const form = table.get(v.getBigUint64(at + 0x10, true) ^ v.getBigUint64(at + 0x18, true))
        if (form === undefined) continue
        const kdbg = decodeAt(data, at, form, base, pages[p]!.addr + BigInt(at))
        if (kdbg !== undefined && kdbg.psActiveProcessHead >= base && kdbg.psActiveProcessHead < end) return kdbg
      }
    }
  }
  return undefined
}
