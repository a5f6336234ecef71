/**
 * Guest RAM of a QEMU process as ranges: guest-physical start and length,
 * and where those bytes live in the QEMU process (host virtual address).
 * Built either from QMP (qmp-layout.ts) or from the command line and
 * /proc/PID/maps (maps-layout.ts).
 */
import { hex } from '../../mem/index.js'
import type { MappedRange } from '../../mem/index.js'

export interface QemuRamRange {
  readonly guestStart: bigint
  readonly length: bigint
  readonly hostAddress: bigint
  /** RAM block name: pc.ram, pc.bios, or a memory backend's id. */
  readonly block: string
  /** 'rom' for blocks the guest cannot write (BIOS); 'ram' otherwise. */
  readonly kind: 'ram' | 'rom'
}

export type LayoutMethod = 'qmp' | 'maps'

export interface QemuRamLayout {
  readonly method: LayoutMethod
  readonly ranges: readonly QemuRamRange[]
  /** Guest RAM size (without ROMs), as QEMU counts it. */
  readonly ramBytes: bigint
  /** Machine type, as QEMU or the command line names it. */
  readonly machine: string
}

/** Ranges as a RangeMap wants them: guest address → host address. */
export function toMappedRanges(ranges: readonly QemuRamRange[]): MappedRange[] {
  return ranges.map((r) => ({ start: r.guestStart, length: r.length, backing: r.hostAddress }))
}

/** Joins ranges that continue each other both in the guest and in the host, within one block. */
export function mergeRanges(ranges: readonly QemuRamRange[]): QemuRamRange[] {
  const sorted = [...ranges].sort((a, b) => (a.guestStart < b.guestStart ? -1 : a.guestStart > b.guestStart ? 1 : 0))
  const out: QemuRamRange[] = []
  for (const r of sorted) {
    const last = out[out.length - 1]
    if (last !== undefined && last.block === r.block && last.guestStart + last.length === r.guestStart && last.hostAddress + last.length === r.hostAddress) {
      out[out.length - 1] = { ...last, length: last.length + r.length, kind: last.kind === 'ram' || r.kind === 'ram' ? 'ram' : 'rom' }
      continue
    }
    out.push(r)
  }
  return out
}

/** JSON-ready form for info(). */
export function describeRanges(ranges: readonly QemuRamRange[]): Record<string, unknown>[] {
  return ranges.map((r) => ({
    guestStart: hex(r.guestStart),
    guestEnd: hex(r.guestStart + r.length),
    hostAddress: hex(r.hostAddress),
    sizeBytes: Number(r.length),
    block: r.block,
    kind: r.kind,
  }))
}
