/**
 * os/NAME/kmem: the kernel's virtual address space, for OS kinds that have
 * one (a guest kernel); hidden where kernelMemory is undefined (native).
 */
import { MemweaveError } from '../../errors/index.js'
import { memLeaf } from '../../tree/index.js'
import type { LeafMapping } from '../../tree/index.js'
import { OS_OBJECT } from '../os-objects.js'
import type { NamedOs } from '../os-objects.js'

export const osKmemLeaf: LeafMapping<NamedOs> = {
  on: OS_OBJECT,
  name: 'kmem',
  appliesTo: (value) => value.os.kernelMemory !== undefined,
  leaf: (object) => {
    const mem = object.value.os.kernelMemory
    if (mem === undefined) throw new MemweaveError('os', 'unsupported', `os '${object.value.name}' (${object.value.kind}) has no kernel memory`)
    return memLeaf({ identity: `${object.identity}/kmem`, lifetime: object.lifetime, mem, sizeBytes: object.value.os.kernelAddressSpaceBytes })
  },
}
