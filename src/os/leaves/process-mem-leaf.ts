/**
 * processes/…/PID/mem: the process's virtual address space; offset =
 * virtual address. Unmapped addresses fail per piece.
 */
import { memLeaf } from '../../tree/index.js'
import type { LeafMapping } from '../../tree/index.js'
import { PROCESS_OBJECT } from '../os-objects.js'
import type { ProcessObject } from '../os-objects.js'

export const processMemLeaf: LeafMapping<ProcessObject> = {
  on: PROCESS_OBJECT,
  name: 'mem',
  leaf: (object) => memLeaf({
    identity: `${object.identity}/mem`,
    lifetime: object.lifetime,
    mem: object.value.process.mem,
    sizeBytes: object.value.process.addressSpaceBytes,
  }),
}
