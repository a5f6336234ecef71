/**
 * Which architecture a Linux guest is, decided from the data, and the few
 * facts that differ per architecture once the kernel is found:
 *
 *   hint                                   says
 *   linux:arch=x86_64|arm64                what the user said
 *   the connector's guestArch              a live QEMU's binary (qemu-system-aarch64)
 *   VMCOREINFO NUMBER(kimage_voffset)      arm64 (only arm64 exports it)
 *   NT_PRSTATUS of 392 bytes               arm64 (x86-64's is 336)
 *   QEMU CPU notes / live CR3 registers    x86-64
 *   an arm64 Image header in RAM           arm64 (raw dumps without notes)
 *
 * Direct map: x86-64 reads page_offset_base (phys 0 at its value); arm64's
 * linear map starts at -(1 << vabits_actual) and holds PHYS_OFFSET
 * (memstart_addr) there.
 */
import { NT_PRSTATUS } from '../../connectors/index.js'
import type { Connector } from '../../connectors/index.js'
import { MemweaveError } from '../../errors/index.js'
import type { VirtualAddressSpace } from '../../arch/index.js'
import { readU64, virtAddr } from '../../mem/index.js'
import { findArm64Image } from './arm64-kernel.js'
import type { Arm64Image } from './arm64-kernel.js'
import type { SymbolTable } from './symbol-table.js'
import type { Vmcoreinfo } from './vmcoreinfo.js'

export type GuestArch = 'x86_64' | 'arm64'

export interface ArchDecision {
  readonly arch: GuestArch
  readonly why: string
  /** Found while deciding (raw dumps): saves the arm64 finder a second scan. */
  readonly image?: Arm64Image
}

const ARM64_PRSTATUS_BYTES = 392

/** Where the kernel is linked without KASLR: x86-64 __START_KERNEL, arm64 KIMAGE_VADDR. */
export const LINK_TEXT: Readonly<Record<GuestArch, bigint>> = { x86_64: 0xffffffff81000000n, arm64: 0xffff800080000000n }

export async function decideArch(connector: Connector, vmcoreinfo: Vmcoreinfo | undefined, argument: string | undefined): Promise<ArchDecision> {
  if (argument !== undefined) {
    if (argument === 'x86_64' || argument === 'x86-64' || argument === 'amd64') return { arch: 'x86_64', why: 'argument arch=' }
    if (argument === 'arm64' || argument === 'aarch64') return { arch: 'arm64', why: 'argument arch=' }
    throw new MemweaveError('os', 'invalid_argument', `linux: arch='${argument}' is not one of x86_64, arm64`)
  }
  if (connector.hints.guestArch !== undefined) return { arch: connector.hints.guestArch, why: 'the connector (QEMU binary)' }
  if (vmcoreinfo?.raw.has('NUMBER(kimage_voffset)') === true) return { arch: 'arm64', why: 'VMCOREINFO kimage_voffset' }
  const notes = connector.hints.elfNotes ?? []
  const prstatus = notes.find((n) => n.name === 'CORE' && n.type === NT_PRSTATUS)
  if (prstatus !== undefined) return prstatus.desc.length === ARM64_PRSTATUS_BYTES ? { arch: 'arm64', why: 'NT_PRSTATUS size' } : { arch: 'x86_64', why: 'NT_PRSTATUS size' }
  if (notes.some((n) => n.name === 'QEMU') || (connector.hints.cpuRegisters ?? []).length > 0) return { arch: 'x86_64', why: 'x86 CPU state' }
  const image = await findArm64Image(connector.mem)
  return image !== undefined ? { arch: 'arm64', why: 'arm64 Image header in memory', image } : { arch: 'x86_64', why: 'default' }
}

/** arm64: the linear map's base and the physical address it starts at. */
export async function arm64DirectMap(kmem: VirtualAddressSpace, symbols: SymbolTable): Promise<{ base: bigint; phys: bigint }> {
  const vabitsAt = symbols.maybe('vabits_actual')
  const vabits = vabitsAt !== undefined ? await readU64(kmem, virtAddr(vabitsAt)) : BigInt(kmem.mode.virtualBits)
  const memstart = symbols.maybe('memstart_addr')
  const phys = memstart !== undefined ? BigInt.asIntN(64, await readU64(kmem, virtAddr(memstart))) : 0n
  return { base: (1n << 64n) - (1n << vabits), phys }
}
