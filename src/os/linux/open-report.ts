/**
 * What `os new … linux` tells a user about the kernel's layouts: which
 * variants were detected (shown in os/NAME/info as `layouts`), and, when a
 * step fails, which step it was, how long it ran and what to do next.
 *
 *   step        what it needs                       fallback named in the error
 *   arch        x86-64 or arm64, from notes/VMCOREINFO   arch=x86_64|arm64
 *   dtb         a page-table root that maps a kernel  dtb=0x…
 *   kernel      the image's pages                     (a complete dump)
 *   kallsyms    a symbol-table layout we decode       symbols=PATH (System.map or /proc/kallsyms)
 *   btf         .BTF in the image                     (none: types come only from BTF)
 *   tasks       task_struct fields by BTF name        symbols=PATH does not help: the layout is named
 *
 * Every field is looked up by its BTF name; a renamed one throws
 * "struct X has no field 'y'", and the step wrapper adds where it happened.
 */
import { MemweaveError } from '../../errors/index.js'
import type { KallsymsLayout } from './kallsyms.js'
import { describeLayout } from './kallsyms.js'
import type { KernelContext } from './kernel-context.js'

const FALLBACKS: Readonly<Record<string, string>> = {
  arch: 'pass arch=x86_64 or arch=arm64',
  dtb: 'pass dtb=0x… (the kernel page-table root) if you know it',
  kernel: 'the dump may be incomplete; symbols=PATH still needs the image pages for BTF',
  kallsyms: 'open it with symbols=PATH (the kernel\'s System.map or a copy of /proc/kallsyms) as the fallback',
  symbols: 'check that symbols=PATH belongs to this kernel',
  btf: 'this kernel needs CONFIG_DEBUG_INFO_BTF=y: types come only from its own BTF (symbols=PATH cannot replace them)',
  tasks: 'the task list is read by BTF field names; a kernel that renamed them is not supported yet (symbols=PATH will not help)',
}

/** Rethrows a step's failure with the step named, its duration and the fallback; the original stays the cause and its text the start. */
export function stepFailure(step: string, err: unknown, elapsedMs: number): unknown {
  if (!(err instanceof MemweaveError)) return err
  if (err.message.includes('[linux open step')) return err
  const fallback = FALLBACKS[step] ?? 'symbols=PATH is the fallback for kallsyms'
  return new MemweaveError(err.origin, err.kind, `${err.message} [linux open step '${step}' failed after ${Math.round(elapsedMs)} ms; ${fallback}]`, { cause: err })
}

/** The variants this kernel turned out to use, each detected from memory (BTF and the tables themselves). */
export function detectedLayouts(kernel: KernelContext, kallsyms: KallsymsLayout | undefined, pagingName: string): Record<string, string> {
  const btf = kernel.btf
  const out: Record<string, string> = { paging: pagingName }
  out['kallsyms'] = kallsyms === undefined ? 'not used (symbols file)' : describeLayout(kallsyms)
  if (btf.hasStruct('module')) {
    const module = btf.struct('module')
    out['modules'] = module.has('mem') ? 'module_memory mem[] (6.4+)' : module.has('core_layout') ? 'core_layout/init_layout (before 6.4)' : 'unknown (neither mem[] nor core_layout)'
  }
  const mm = btf.hasStruct('mm_struct') ? btf.struct('mm_struct') : undefined
  out['vmas'] = mm?.has('mm_mt') === true ? 'maple tree (mm_mt)' : mm?.has('mmap') === true ? 'rb-tree/list (mmap, before 6.1): not supported' : 'unknown'
  const task = btf.struct('task_struct')
  out['taskState'] = task.has('__state') ? '__state' : task.has('state') ? 'state' : 'missing'
  return out
}
