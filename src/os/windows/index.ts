/**
 * @module os/windows
 * A Windows guest opened from its memory alone, without PDB files: the
 * kernel found by its PE image, offsets from the KDBG block when present
 * and otherwise from the data itself.
 *
 *   connector.mem ─▶ root (dump header / low stub / self-ref PML4) ─▶ ntoskrnl PE ─▶ exports, KDBG
 *        ─▶ PsActiveProcessHead ─▶ EPROCESS ring ─▶ offsets from data ─▶ processes
 *             ├▶ DirectoryTableBase ─▶ process memory ─▶ PEB ─▶ loader list ─▶ modules
 *             └▶ VadRoot ─▶ VAD tree ─▶ maps
 *        ─▶ PsLoadedModuleList ─▶ drivers
 *   triage dumps: the connector's blocks are the kernel view (no page tables)
 *   processes/…/PID/minidump: a MINIDUMP of the process (WINDOWS_MAPPINGS)
 */
import { processMinidumpLeaf } from './process-minidump-leaf.js'

export { windowsOsKind, WINDOWS_USAGE } from './windows-kind.js'
export { WindowsOs } from './windows-os.js'
export { WindowsProcess } from './windows-process.js'
export { openWindowsKernel } from './windows-open.js'
export type { OpenedWindows, WindowsKernel } from './windows-open.js'
export { parsePeHeader, readPeExports } from './pe-image.js'
export type { PeExports, PeHeader, PeSection } from './pe-image.js'
export { decodeKdbg } from './kdbg.js'
export type { Kdbg, KdbgOffsets } from './kdbg.js'
export { processMinidumpLeaf } from './process-minidump-leaf.js'
export { planMinidump } from './minidump-layout.js'

/** Features of the tree that only Windows processes have, registered by the composition root. */
export const WINDOWS_MAPPINGS = [processMinidumpLeaf] as const
