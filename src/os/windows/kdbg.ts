/**
 * The kernel debugger data block (KDDEBUGGER_DATA64, "KDBG"): a header
 * (LIST_ENTRY64, 'KDBG' owner tag at +0x10, size at +0x14) followed by
 * kernel addresses and, since Server 2003, a table of structure offsets.
 * Only the fields used here are decoded:
 *
 *   +0x18 KernBase             +0x48 PsLoadedModuleList   +0x50 PsActiveProcessHead
 *   +0x208 NtBuildLab          +0x2a0 OffsetKThreadApcProcess
 *   +0x2a8 SizeEProcess        +0x2aa OffsetEprocessPeb   +0x2ac OffsetEprocessParentCID
 *   +0x2ae OffsetEprocessDirectoryTableBase               +0x2c0 SizeEThread
 *
 * Where it comes from, in order: a triage dump's copy, the dump header's
 * KdDebuggerDataBlock, a scan of ntoskrnl's writable sections, then the
 * same scan for an encoded block (live Windows 10+, kdbg-encoded.ts). When
 * none is found the OS falls back to offsets found from data.
 */
import { hex, virtAddr } from '../../mem/index.js'
import type { VirtualMemory } from '../../mem/index.js'
import type { PeHeader } from './pe-image.js'

export const KDBG_TAG = 0x4742444b // 'KDBG'
export const KDBG_MIN_BYTES = 0x2c2

export interface KdbgOffsets {
  readonly kthreadApcProcess: number
  readonly sizeEprocess: number
  readonly eprocessPeb: number
  readonly eprocessParentCid: number
  readonly eprocessDirectoryTableBase: number
  readonly sizeEthread: number
}

export interface Kdbg {
  readonly address: bigint | undefined
  readonly sizeBytes: number
  readonly kernBase: bigint
  readonly psLoadedModuleList: bigint
  readonly psActiveProcessHead: bigint
  readonly ntBuildLab: bigint
  readonly offsets: KdbgOffsets
  readonly source: string
}

/** Decodes a plain (not encoded) block, or undefined when the bytes are not one. */
export function decodeKdbg(bytes: Uint8Array, address: bigint | undefined, source: string): Kdbg | undefined {
  if (bytes.length < KDBG_MIN_BYTES) return undefined
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (v.getUint32(0x10, true) !== KDBG_TAG) return undefined
  const sizeBytes = v.getUint32(0x14, true)
  if (sizeBytes < KDBG_MIN_BYTES || sizeBytes > 0x1000) return undefined
  const u16 = (at: number): number => v.getUint16(at, true)
  return {
    address,
    sizeBytes,
    kernBase: v.getBigUint64(0x18, true),
    psLoadedModuleList: v.getBigUint64(0x48, true),
    psActiveProcessHead: v.getBigUint64(0x50, true),
    ntBuildLab: v.getBigUint64(0x208, true),
    offsets: {
      kthreadApcProcess: u16(0x2a0), sizeEprocess: u16(0x2a8), eprocessPeb: u16(0x2aa), eprocessParentCid: u16(0x2ac),
      eprocessDirectoryTableBase: u16(0x2ae), sizeEthread: u16(0x2c0),
    },
    source,
  }
}

export function kdbgFacts(kdbg: Kdbg): Record<string, unknown> {
  return {
    source: kdbg.source,
    address: kdbg.address === undefined ? undefined : hex(kdbg.address),
    sizeBytes: kdbg.sizeBytes,
    kernBase: hex(kdbg.kernBase),
    psLoadedModuleList: hex(kdbg.psLoadedModuleList),
    psActiveProcessHead: hex(kdbg.psActiveProcessHead),
    offsets: Object.fromEntries(Object.entries(kdbg.offsets).map(([k, n]) => [k, hex(n)])),
  }
}

/** Reads a block at a known address; undefined when absent or not plain. */
export async function readKdbgAt(kmem: VirtualMemory, address: bigint, source: string): Promise<Kdbg | undefined> {
  const [r] = await kmem.read([{ addr: virtAddr(address), length: 0x380 }])
  if (r === undefined || !r.ok) return undefined
  return decodeKdbg(r.data, address, source)
}

/** Bytes of writable sections read per batch while scanning. */
const SCAN_CHUNK_BYTES = 64 * 1024

/**
 * Scans ntoskrnl's data sections for a plain block whose KernBase is the
 * image base; undefined when none (absent, or encoded as on live Windows 10+).
 */
export async function scanForKdbg(kmem: VirtualMemory, base: bigint, header: PeHeader): Promise<Kdbg | undefined> {
  const writable = header.sections.filter((s) => (s.characteristics & 0x80000000) !== 0 && s.virtualSize > 0)
  for (const section of writable) {
    const chunks: { addr: bigint; length: number }[] = []
    for (let at = 0; at < section.virtualSize; at += SCAN_CHUNK_BYTES) {
      chunks.push({ addr: base + BigInt(section.rva + at), length: Math.min(SCAN_CHUNK_BYTES, section.virtualSize - at) })
    }
    // Page by page, so an absent page does not hide the others.
    const pages = chunks.flatMap((c) => Array.from({ length: Math.ceil(c.length / 4096) }, (_, i) => ({ addr: virtAddr(c.addr + BigInt(i * 4096)), length: Math.min(4096, c.length - i * 4096) })))
    const results = await kmem.read(pages)
    for (let p = 0; p < pages.length; p++) {
      const r = results[p]
      if (r === undefined || !r.ok) continue
      const v = new DataView(r.data.buffer, r.data.byteOffset, r.data.byteLength)
      for (let at = 0x10; at + 8 <= r.data.length; at += 8) {
        if (v.getUint32(at, true) !== KDBG_TAG || v.getBigUint64(at + 8, true) !== base) continue
        const found = await readKdbgAt(kmem, pages[p]!.addr + BigInt(at - 0x10), 'scan of ntoskrnl data sections')
        if (found !== undefined) return found
      }
    }
  }
  return undefined
}
