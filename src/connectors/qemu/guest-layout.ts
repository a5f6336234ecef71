/**
 * Where a QEMU machine puts its RAM in guest-physical space, from the
 * machine type and RAM size alone (the `maps` method, without QMP). These
 * are QEMU's board rules (hw/i386/pc_piix.c, pc_q35.c, hw/arm/virt.c):
 *
 *   pc (i440fx): lowmem = max-ram-below-4g (default 3.5 GiB); when RAM is at
 *       least that, new machine types (gigabyte_align) cap lowmem at 3 GiB.
 *   q35:         lowmem = 2 GiB when RAM >= 2.75 GiB, else 2.75 GiB (all RAM
 *       low); old types (< 2.0) keep 2.75 GiB; max-ram-below-4g lowers it.
 *   both:        RAM >= lowmem → [0, lowmem) and [4 GiB, 4 GiB + rest),
 *       the high part following the low part in the one RAM block.
 *   isapc: all RAM from 0.   arm/aarch64 virt: all RAM from 1 GiB.
 */
import { MemweaveError } from '../../errors/index.js'

export interface GuestRamRange {
  readonly guestStart: bigint
  readonly length: bigint
  /** Offset of this range inside the RAM block. */
  readonly blockOffset: bigint
}

export interface GuestRamLayout {
  /** Board family the rules came from. */
  readonly family: 'pc' | 'q35' | 'isapc' | 'virt'
  readonly ranges: readonly GuestRamRange[]
}

const GIB = 1n << 30n
const FOUR_GIB = 4n * GIB

type Family = GuestRamLayout['family']

/** Board family and QEMU version of a machine type name (pc-q35-7.2, q35, pc-i440fx-2.1, pc-1.3, pc, virt-8.0). */
export function machineFamily(machineType: string | undefined, binary: string): { family: Family; version: number | undefined } {
  const arm = /qemu-system-(aarch64|arm)$/.test(binary)
  const type = machineType ?? (arm ? 'virt' : 'pc')
  const version = /-(\d+)\.(\d+)/.exec(type)
  const v = version === null ? undefined : Number(version[1]) + Number(version[2]) / 100
  if (type === 'q35' || type.startsWith('pc-q35')) return { family: 'q35', version: v }
  if (type === 'pc' || type.startsWith('pc-i440fx') || /^pc-\d/.test(type)) return { family: 'pc', version: v }
  if (type === 'isapc') return { family: 'isapc', version: v }
  if (arm && (type === 'virt' || type.startsWith('virt-'))) return { family: 'virt', version: v }
  throw new MemweaveError('connector', 'unsupported',
    `qemu: machine type '${type}' (${binary}) has no known RAM layout rules; give qmp=SOCKET so the layout is read from QEMU`)
}

/** The guest-physical RAM ranges QEMU builds for this machine and RAM size. */
export function guestRamLayout(family: Family, version: number | undefined, ramBytes: bigint, maxRamBelow4g?: bigint): GuestRamLayout {
  switch (family) {
    case 'isapc': return { family, ranges: [{ guestStart: 0n, length: ramBytes, blockOffset: 0n }] }
    case 'virt': return { family, ranges: [{ guestStart: GIB, length: ramBytes, blockOffset: 0n }] }
    case 'pc': return { family, ranges: split(ramBytes, pcLowmem(version, ramBytes, maxRamBelow4g)) }
    case 'q35': return { family, ranges: split(ramBytes, q35Lowmem(version, ramBytes, maxRamBelow4g)) }
  }
}

// Machine types before 2.0 predate gigabyte alignment of the split.
const gigabyteAligned = (version: number | undefined): boolean => version === undefined || version >= 2

function pcLowmem(version: number | undefined, ramBytes: bigint, maxRamBelow4g: bigint | undefined): bigint {
  const limit = maxRamBelow4g !== undefined && maxRamBelow4g > 0n ? maxRamBelow4g : 0xe0000000n
  let lowmem = limit
  if (ramBytes >= limit && gigabyteAligned(version) && lowmem > 0xc0000000n) lowmem = 0xc0000000n
  return lowmem
}

function q35Lowmem(version: number | undefined, ramBytes: bigint, maxRamBelow4g: bigint | undefined): bigint {
  let lowmem = ramBytes >= 0xb0000000n && gigabyteAligned(version) ? 0x80000000n : 0xb0000000n
  if (maxRamBelow4g !== undefined && maxRamBelow4g > 0n && lowmem > maxRamBelow4g) lowmem = maxRamBelow4g
  return lowmem
}

function split(ramBytes: bigint, lowmem: bigint): GuestRamRange[] {
  if (ramBytes < lowmem) return [{ guestStart: 0n, length: ramBytes, blockOffset: 0n }]
  const ranges: GuestRamRange[] = [{ guestStart: 0n, length: lowmem, blockOffset: 0n }]
  if (ramBytes > lowmem) ranges.push({ guestStart: FOUR_GIB, length: ramBytes - lowmem, blockOffset: lowmem })
  return ranges
}
