/**
 * Where the kernel's page-table root may be, best source first: the `dtb=`
 * argument (then nothing else), CR3 of each CPU in a QEMU dump (PCID bits masked; with page-table
 * isolation CR3 may hold the user half's copy 4 KiB above the kernel PGD, so
 * that one is tried too), then CR3 of each vCPU of a live QEMU (read over
 * QMP when the connector attached), then VMCOREINFO's init_top_pgt turned physical
 * with phys_base. The paging mode comes from CR4.LA57 or
 * NUMBER(pgtable_l5_enabled); without either both modes are tried.
 */
import type { ConnectorHints } from '../../connectors/index.js'
import { X64_4LEVEL, X64_5LEVEL } from '../../arch/index.js'
import type { PagingMode } from '../../arch/index.js'
import { cr3TableAddress, CR4_LA57, qemuCpuStates } from './cpu-state.js'
import { KERNEL_IMAGE_START } from './symbol-table.js'
import type { Vmcoreinfo } from './vmcoreinfo.js'

export interface DtbCandidate {
  readonly dtb: bigint
  readonly modes: readonly PagingMode[]
  readonly source: string
}

/** CR3 bit that selects the user copy of the PGD under page-table isolation. */
const PTI_USER_PGD_BIT = 1n << 12n
const BOTH_MODES: readonly PagingMode[] = [X64_4LEVEL, X64_5LEVEL]

export function dtbCandidates(hints: ConnectorHints, vmcoreinfo: Vmcoreinfo | undefined, dtbArg: bigint | undefined): DtbCandidate[] {
  const out: DtbCandidate[] = []
  const seen = new Set<bigint>()
  const add = (dtb: bigint, modes: readonly PagingMode[], source: string): void => {
    if (seen.has(dtb)) return
    seen.add(dtb)
    out.push({ dtb, modes, source })
  }
  const l5 = vmcoreinfo?.numbers.get('pgtable_l5_enabled')
  const vmcoreModes: readonly PagingMode[] = l5 === undefined ? BOTH_MODES : l5 === 0n ? [X64_4LEVEL] : [X64_5LEVEL]
  const cpus = qemuCpuStates(hints.elfNotes ?? [])
  const live = hints.cpuRegisters ?? []
  const liveCr4 = live.find((cpu) => cpu.cr4 !== undefined)?.cr4
  const cr4 = cpus[0]?.cr4 ?? liveCr4
  const cpuModes: readonly PagingMode[] | undefined = cr4 === undefined ? undefined : modesOf(cr4)
  // An explicit root overrides every other source.
  if (dtbArg !== undefined) return [{ dtb: cr3TableAddress(dtbArg), modes: cpuModes ?? vmcoreModes, source: 'argument dtb=' }]
  const addCr3 = (cr3: bigint, modes: readonly PagingMode[], source: string): void => {
    const table = cr3TableAddress(cr3)
    if (table === 0n) return
    add(table & ~PTI_USER_PGD_BIT, modes, source)
    add(table, modes, source)
  }
  for (const cpu of cpus) addCr3(cpu.cr3, modesOf(cpu.cr4), `CR3 of CPU ${cpu.cpu} (QEMU note)`)
  // A vCPU in real mode or before paging has a CR3 that maps nothing; findKernel refuses it and moves on.
  for (const cpu of live) addCr3(cpu.cr3, cpu.cr4 === undefined ? cpuModes ?? vmcoreModes : modesOf(cpu.cr4), `CR3 of CPU ${cpu.cpu} (QMP info registers)`)
  const pgt = vmcoreinfo?.symbols.get('init_top_pgt') ?? vmcoreinfo?.symbols.get('swapper_pg_dir')
  const physBase = vmcoreinfo?.numbers.get('phys_base')
  if (pgt !== undefined && physBase !== undefined && pgt >= KERNEL_IMAGE_START) {
    add(BigInt.asUintN(64, pgt - KERNEL_IMAGE_START + physBase), cpuModes ?? vmcoreModes, 'VMCOREINFO init_top_pgt')
  }
  return out
}

function modesOf(cr4: bigint): readonly PagingMode[] {
  return (cr4 & CR4_LA57) !== 0n ? [X64_5LEVEL] : [X64_4LEVEL]
}

export { BOTH_MODES }
