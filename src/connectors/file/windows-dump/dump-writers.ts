/**
 * Builders for small Windows crash dumps, used by tests: a full (run-based)
 * or bitmap dump of given page-aligned ranges, 64-bit (PAGEDU64) or 32-bit
 * (PAGEDUMP, full only), and a triage dump of given virtual blocks. Fields
 * not given are zero; unused header space holds the 'PAGE' filler as
 * Windows writes it.
 */
import { MemweaveError } from '../../../errors/index.js'
import type { ImageRange } from '../image-writers.js'
import { PAGE_BYTES } from './dump-header.js'

export interface WindowsDumpOptions {
  readonly layout: 'full' | 'bitmap'
  readonly bits?: 32 | 64
  readonly dtb?: bigint
  readonly build?: number
  readonly kdDebuggerDataBlock?: bigint
  readonly psActiveProcessHead?: bigint
  readonly psLoadedModuleList?: bigint
  readonly bugcheckCode?: number
}

const PAGE = BigInt(PAGE_BYTES)
const FILLER = [0x50, 0x41, 0x47, 0x45] // 'PAGE'

function filled(length: number): Uint8Array {
  const out = new Uint8Array(length)
  for (let i = 0; i < length; i++) out[i] = FILLER[i % 4]!
  return out
}

function checkPageAligned(ranges: readonly ImageRange[]): void {
  for (const r of ranges) {
    if (r.addr % PAGE !== 0n || r.data.length % PAGE_BYTES !== 0) throw new MemweaveError('connector', 'invalid_argument', `crash dump range 0x${r.addr.toString(16)}+${r.data.length} is not page-aligned`)
  }
}

function writeCommon64(v: DataView, o: WindowsDumpOptions, dumpType: number): void {
  v.setUint32(0, 0x45474150, true)
  v.setUint32(4, 0x34365544, true)
  v.setUint32(8, 15, true)
  v.setUint32(12, o.build ?? 19041, true)
  v.setBigUint64(0x10, o.dtb ?? 0n, true)
  v.setBigUint64(0x20, o.psLoadedModuleList ?? 0n, true)
  v.setBigUint64(0x28, o.psActiveProcessHead ?? 0n, true)
  v.setUint32(0x30, 0x8664, true)
  v.setUint32(0x34, 1, true)
  v.setUint32(0x38, o.bugcheckCode ?? 0xe2, true)
  v.setBigUint64(0x80, o.kdDebuggerDataBlock ?? 0n, true)
  v.setUint32(0xf98, dumpType, true)
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.length }
  return out
}

export function writeWindowsDump(ranges: readonly ImageRange[], options: WindowsDumpOptions): Uint8Array {
  checkPageAligned(ranges)
  const sorted = [...ranges].sort((a, b) => (a.addr < b.addr ? -1 : 1))
  const bits = options.bits ?? 64
  if (bits === 32) {
    if (options.layout !== 'full') throw new MemweaveError('connector', 'unsupported', 'only full 32-bit crash dumps are built')
    const header = filled(PAGE_BYTES)
    const v = new DataView(header.buffer)
    v.setUint32(0, 0x45474150, true)
    v.setUint32(4, 0x504d5544, true)
    v.setUint32(8, 15, true)
    v.setUint32(12, options.build ?? 7601, true)
    v.setUint32(0x10, Number(options.dtb ?? 0n), true)
    v.setUint32(0x18, Number(options.psLoadedModuleList ?? 0n), true)
    v.setUint32(0x1c, Number(options.psActiveProcessHead ?? 0n), true)
    v.setUint32(0x20, 0x14c, true)
    v.setUint32(0x24, 1, true)
    v.setUint32(0x28, options.bugcheckCode ?? 0xe2, true)
    v.setUint8(0x5c, 1)
    v.setUint32(0x60, Number(options.kdDebuggerDataBlock ?? 0n), true)
    v.setUint32(0x64, sorted.length, true)
    v.setUint32(0x68, sorted.reduce((n, r) => n + r.data.length / PAGE_BYTES, 0), true)
    sorted.forEach((r, i) => { v.setUint32(0x6c + i * 8, Number(r.addr / PAGE), true); v.setUint32(0x70 + i * 8, r.data.length / PAGE_BYTES, true) })
    v.setUint32(0xf88, 1, true)
    return concat([header, ...sorted.map((r) => r.data)])
  }
  const header = filled(2 * PAGE_BYTES)
  const v = new DataView(header.buffer)
  if (options.layout === 'full') {
    writeCommon64(v, options, 1)
    v.setUint32(0x88, sorted.length, true)
    v.setUint32(0x8c, 0, true)
    v.setBigUint64(0x90, BigInt(sorted.reduce((n, r) => n + r.data.length / PAGE_BYTES, 0)), true)
    sorted.forEach((r, i) => { v.setBigUint64(0x98 + i * 16, r.addr / PAGE, true); v.setBigUint64(0xa0 + i * 16, BigInt(r.data.length / PAGE_BYTES), true) })
    return concat([header, ...sorted.map((r) => r.data)])
  }
  writeCommon64(v, options, 5)
  const last = sorted[sorted.length - 1]
  const pages = last === undefined ? 0 : Number(last.addr / PAGE) + last.data.length / PAGE_BYTES
  const bitmapBytes = Math.ceil(pages / 8)
  const firstPage = Math.ceil((2 * PAGE_BYTES + 0x38 + bitmapBytes) / PAGE_BYTES) * PAGE_BYTES
  const second = new Uint8Array(firstPage - 2 * PAGE_BYTES)
  const s = new DataView(second.buffer)
  s.setUint32(0, 0x504d4446, true) // 'FDMP'
  s.setUint32(4, 0x504d5544, true) // 'DUMP'
  s.setBigUint64(0x20, BigInt(firstPage), true)
  s.setBigUint64(0x28, BigInt(sorted.reduce((n, r) => n + r.data.length / PAGE_BYTES, 0)), true)
  s.setBigUint64(0x30, BigInt(pages), true)
  for (const r of sorted) {
    for (let p = Number(r.addr / PAGE); p < Number(r.addr / PAGE) + r.data.length / PAGE_BYTES; p++) second[0x38 + (p >>> 3)]! |= 1 << (p & 7)
  }
  return concat([header, second, ...sorted.map((r) => r.data)])
}

export interface TriageBlock {
  readonly addr: bigint
  readonly data: Uint8Array
}

/** A 64-bit triage dump: blocks, a KDBG copy placed at kdDebuggerDataBlock and a driver list. */
export function writeTriageDump(blocks: readonly TriageBlock[], options: { readonly kdbg?: Uint8Array; readonly kdDebuggerDataBlock?: bigint; readonly drivers?: readonly { path: string; base: bigint; sizeBytes: number }[] } = {}): Uint8Array {
  const header = filled(2 * PAGE_BYTES)
  const v = new DataView(header.buffer)
  writeCommon64(v, { layout: 'full', kdDebuggerDataBlock: options.kdDebuggerDataBlock }, 4)
  const triage = new Uint8Array(0x80)
  const t = new DataView(triage.buffer)
  let at = 2 * PAGE_BYTES + triage.length
  const parts: Uint8Array[] = []
  const place = (bytes: Uint8Array): number => { const here = at; parts.push(bytes); at += bytes.length; return here }
  const drivers = options.drivers ?? []
  const pool = concat(drivers.map((d) => {
    const name = Buffer.from(`${d.path}\0`, 'utf16le')
    const out = new Uint8Array(4 + name.length)
    new DataView(out.buffer).setUint32(0, d.path.length, true)
    out.set(name, 4)
    return out
  }))
  const list = new Uint8Array(drivers.length * 0x90)
  const l = new DataView(list.buffer)
  const listAt = place(list)
  const poolAt = place(pool)
  let nameAt = poolAt
  drivers.forEach((d, i) => {
    l.setUint32(i * 0x90, nameAt, true)
    l.setBigUint64(i * 0x90 + 0x38, d.base, true)
    l.setUint32(i * 0x90 + 0x48, d.sizeBytes, true)
    nameAt += 4 + (d.path.length + 1) * 2
  })
  t.setUint32(0x30, listAt, true)
  t.setUint32(0x34, drivers.length, true)
  t.setUint32(0x38, poolAt, true)
  t.setUint32(0x3c, pool.length, true)
  if (options.kdbg !== undefined) {
    t.setUint32(0x70, place(options.kdbg), true)
    t.setUint32(0x74, options.kdbg.length, true)
  }
  const table = new Uint8Array(blocks.length * 16)
  const tv = new DataView(table.buffer)
  t.setUint32(0x78, place(table), true)
  t.setUint32(0x7c, blocks.length, true)
  blocks.forEach((b, i) => {
    tv.setBigUint64(i * 16, b.addr, true)
    tv.setUint32(i * 16 + 8, place(b.data), true)
    tv.setUint32(i * 16 + 12, b.data.length, true)
  })
  return concat([header, triage, ...parts])
}
