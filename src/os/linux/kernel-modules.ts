/**
 * Loaded kernel modules: the `modules` list of struct module, walked through
 * list.next with container_of and the usual bounds. Like /proc/modules in
 * 6.1, a module's address is core_layout.base and its size is
 * core_layout.size + init_layout.size; kernels with the module_memory array
 * (6.4+) sum mem[].size and take the text part's base.
 */
import { MemweaveError } from '../../errors/index.js'
import { hex, virtAddr } from '../../mem/index.js'
import type { ModuleInfo } from '../os-model.js'
import { readStructs } from './btf/index.js'
import type { StructView } from './btf/index.js'
import { isKernelPointer } from './kernel-context.js'
import type { KernelContext } from './kernel-context.js'

/** More than any kernel loads (the module ID space is far smaller in practice). */
export const MAX_MODULES = 8192

function moduleExtent(view: StructView): { base: bigint; sizeBytes: bigint } {
  const layout = view.layout
  if (layout.has('core_layout')) {
    const init = layout.has('init_layout.size') ? BigInt(view.u32('init_layout.size')) : 0n
    return { base: view.ptr('core_layout.base'), sizeBytes: BigInt(view.u32('core_layout.size')) + init }
  }
  const mem = layout.field('mem')
  if (mem.type.kind !== 'array' || mem.type.element.kind !== 'struct') throw new MemweaveError('os', 'unsupported', 'struct module has neither core_layout nor a mem[] array')
  const element = mem.type.element.layout
  const stride = mem.type.element.sizeBytes
  const base = element.field('base').offsetBytes
  const size = element.field('size')
  let total = 0n
  for (let i = 0; i < mem.type.count; i++) {
    const at = mem.offsetBytes + i * stride
    const dv = new DataView(view.data.buffer, view.data.byteOffset + at, stride)
    total += BigInt(dv.getUint32(size.offsetBytes, true))
  }
  const textBase = new DataView(view.data.buffer, view.data.byteOffset + mem.offsetBytes, 8).getBigUint64(base, true)
  return { base: textBase, sizeBytes: total }
}

/** enum module_state values as /proc/modules prints them (MODULE_STATE_LIVE → Live). */
function moduleStateNames(kernel: KernelContext): Map<bigint, string> {
  const names = new Map<bigint, string>()
  let values: ReadonlyMap<string, bigint>
  try {
    values = kernel.btf.enumValues('module_state')
  } catch (err) {
    // Only decoration: without the enum the numeric state is shown.
    if (err instanceof MemweaveError && err.kind === 'not_found') return names
    throw err
  }
  for (const [name, value] of values) {
    const word = name.replace(/^MODULE_STATE_/, '').toLowerCase()
    names.set(value, word.charAt(0).toUpperCase() + word.slice(1))
  }
  return names
}

export async function readKernelModules(kernel: KernelContext): Promise<ModuleInfo[]> {
  const head = kernel.symbols.addr('modules')
  const layout = kernel.btf.struct('module')
  const listOffset = BigInt(layout.field('list').offsetBytes)
  const [headView] = await kernel.kmem.read([{ addr: virtAddr(head), length: 8 }])
  if (headView === undefined || !headView.ok) throw new MemweaveError('os', 'io', `modules: cannot read the list head at ${hex(head)}`, { cause: headView?.ok === false ? headView.error : undefined })
  let link = new DataView(headView.data.buffer, headView.data.byteOffset, 8).getBigUint64(0, true)
  const visited = new Set<bigint>()
  const out: ModuleInfo[] = []
  const states = moduleStateNames(kernel)
  while (link !== head) {
    if (!isKernelPointer(kernel, link)) throw new MemweaveError('os', 'malformed', `modules: list pointer ${hex(link)} is not a kernel address (after ${out.length} modules)`)
    if (visited.has(link) || visited.size >= MAX_MODULES) throw new MemweaveError('os', 'malformed', `modules: list does not return to its head (cycle at ${hex(link)})`)
    visited.add(link)
    const addr = link - listOffset
    const [view] = await readStructs(kernel.kmem, [virtAddr(addr)], layout)
    if (view === undefined || view instanceof MemweaveError) throw new MemweaveError('os', 'malformed', `modules: cannot read struct module at ${hex(addr)}`, { cause: view })
    const { base, sizeBytes } = moduleExtent(view)
    out.push({ name: view.cstring('name'), base: virtAddr(base), sizeBytes, path: undefined, extra: { struct: hex(addr), state: states.get(view.uint('state')) ?? String(view.uint('state')) } })
    link = view.ptr('list.next')
  }
  return out
}
