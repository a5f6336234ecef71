/**
 * @module os/linux
 * A Linux x86-64 guest opened from its memory alone: symbols from the
 * guest's own kallsyms tables, structure layouts from its own BTF.
 *
 *   connector.mem ─▶ dtb (CR3 / VMCOREINFO / scan) ─▶ kernel image (KASLR base)
 *        ─▶ kallsyms ─▶ BTF ─▶ init_task.tasks ─▶ processes ─▶ mm ─▶ maple tree ─▶ VMAs ─▶ maps
 *                                               └▶ modules list ─▶ kernel modules
 */
export { linuxOsKind, LINUX_USAGE } from './linux-kind.js'
export { LinuxOs } from './linux-os.js'
export { LinuxProcess, LIVE_CHECK_REUSE_MS } from './linux-process.js'
export { checkTask } from './task-check.js'
export type { TaskCheck } from './task-check.js'
export { openLinuxKernel } from './linux-open.js'
export type { LinuxOpenOptions, OpenedKernel } from './linux-open.js'
export type { KernelContext } from './kernel-context.js'
export { SymbolTable, parseSymbolFile } from './symbol-table.js'
export type { KernelSymbol } from './symbol-table.js'
export { loadKallsyms, validateKallsyms } from './kallsyms.js'
export type { Kallsyms, KallsymsLayout } from './kallsyms.js'
export { taskStateLetter } from './task-state.js'
export { parseVmcoreinfo } from './vmcoreinfo.js'
export type { Vmcoreinfo } from './vmcoreinfo.js'
export { qemuCpuStates, cr3TableAddress } from './cpu-state.js'
export type { CpuControlState } from './cpu-state.js'
