/**
 * The [vsyscall] line /proc/PID/maps ends with on x86-64: the kernel's
 * gate_vma, shown unless vsyscall=none. The mode lives in the static
 * `vsyscall_mode` (an anonymous enum { EMULATE, XONLY, NONE }); the range and
 * flags come from `gate_vma` itself.
 */
import { MemweaveError } from '../../errors/index.js'
import { readU32, virtAddr } from '../../mem/index.js'
import type { MapEntry } from '../os-model.js'
import { readStructs } from './btf/index.js'
import type { KernelContext } from './kernel-context.js'

/** NONE in arch/x86/entry/vsyscall/vsyscall_64.c's enum { EMULATE, XONLY, NONE }. */
const VSYSCALL_NONE = 2
const VM_READ = 1n
const VM_WRITE = 2n
const VM_EXEC = 4n

export async function readGateEntry(kernel: KernelContext): Promise<MapEntry | undefined> {
  const modeAddr = kernel.symbols.maybe('vsyscall_mode')
  const gateAddr = kernel.symbols.maybe('gate_vma')
  if (modeAddr === undefined || gateAddr === undefined) return undefined
  if (await readU32(kernel.kmem, virtAddr(modeAddr)) === VSYSCALL_NONE) return undefined
  const layout = kernel.btf.struct('vm_area_struct')
  const [view] = await readStructs(kernel.kmem, [virtAddr(gateAddr)], layout)
  if (view === undefined || view instanceof MemweaveError) throw new MemweaveError('os', 'malformed', 'cannot read gate_vma', { cause: view })
  const flags = view.uint(layout.firstField('vm_flags', '__vm_flags').path)
  const perms = `${flags & VM_READ ? 'r' : '-'}${flags & VM_WRITE ? 'w' : '-'}${flags & VM_EXEC ? 'x' : '-'}p`
  return { start: virtAddr(view.u64('vm_start')), end: virtAddr(view.u64('vm_end')), perms, offset: 0n, dev: '00:00', inode: 0n, path: '[vsyscall]' }
}
