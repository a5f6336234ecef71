/**
 * modules/NAME/mem: the module's image in memory, offset 0 = its base, size
 * = its size. For a process image it is a window of the process's memory;
 * for a kernel module, the OS kind's kernelModuleMemory (present only where
 * the kind can read kernel memory). That view is expected to be
 * base-relative too (offset 0 = module base).
 */
import { MemweaveError } from '../../errors/index.js'
import type { MemoryView } from '../../mem/index.js'
import { memLeaf } from '../../tree/index.js'
import type { LeafMapping } from '../../tree/index.js'
import { MODULE_OBJECT } from '../os-objects.js'
import type { ModuleObject } from '../os-objects.js'
import { WindowMemory } from '../window-memory.js'

export const moduleMemLeaf: LeafMapping<ModuleObject> = {
  on: MODULE_OBJECT,
  name: 'mem',
  appliesTo: (value) => value.process !== undefined || value.os.kernelModuleMemory !== undefined,
  leaf: (object) => {
    const { module, process, os } = object.value
    let mem: MemoryView
    if (process !== undefined) mem = new WindowMemory(process.mem, module.base, module.sizeBytes)
    else if (os.kernelModuleMemory !== undefined) mem = os.kernelModuleMemory(module)
    else throw new MemweaveError('os', 'unsupported', `os '${object.value.osName}' cannot read kernel module memory`)
    return memLeaf({ identity: `${object.identity}/mem`, lifetime: object.lifetime, mem, sizeBytes: module.sizeBytes })
  },
}
