/**
 * CPU state saved by QEMU's dump-guest-memory: one "QEMU" ELF note per
 * virtual CPU holding a QEMUCPUState (version, size, general registers, rip,
 * rflags, ten 24-byte segment records, cr0..cr4, optionally kernel_gs_base).
 * Only the control registers matter here: CR3 is the page-table root and
 * CR4.LA57 says whether paging has five levels.
 */
import type { ElfNote } from '../../connectors/index.js'

export interface CpuControlState {
  readonly cpu: number
  readonly cr0: bigint
  readonly cr3: bigint
  readonly cr4: bigint
}

/** Offset of cr[0] in QEMUCPUState: 8-byte header, 18 registers, 10 segments of 24 bytes. */
const CR_OFFSET = 8 + 18 * 8 + 10 * 24
const CR_COUNT = 5
export const CR4_LA57 = 1n << 12n
/** CR3 bits below the table address: PCID (bits 0..11). */
const CR3_PCID_MASK = 0xfffn
/** Bit 63 of CR3 (no-flush hint when PCID is on); never part of the address. */
const CR3_NOFLUSH = 1n << 63n

export function qemuCpuStates(notes: readonly ElfNote[]): CpuControlState[] {
  const states: CpuControlState[] = []
  for (const note of notes) {
    if (note.name !== 'QEMU' || note.desc.length < CR_OFFSET + CR_COUNT * 8) continue
    const view = new DataView(note.desc.buffer, note.desc.byteOffset, note.desc.byteLength)
    const declared = view.getUint32(4, true)
    if (declared !== 0 && declared < CR_OFFSET + CR_COUNT * 8) continue
    const cr = (i: number): bigint => view.getBigUint64(CR_OFFSET + i * 8, true)
    states.push({ cpu: states.length, cr0: cr(0), cr3: cr(3), cr4: cr(4) })
  }
  return states
}

/** The page-table address held in a CR3 value (PCID and no-flush bits removed). */
export function cr3TableAddress(cr3: bigint): bigint {
  return cr3 & ~CR3_PCID_MASK & ~CR3_NOFLUSH
}
