/**
 * processes/…/PID/core: an ELF core file of the process, loadable by gdb.
 * Its layout (headers, notes, which mappings have data) is planned when it
 * is listed or opened, so its size is known; the bytes are read from the
 * process memory as they are asked for, never built whole.
 */
import type { LeafMapping, Leaf } from '../../tree/index.js'
import { planCoreFile } from '../core-file/core-file-layout.js'
import { plannedFileLeaf } from '../core-file/planned-file-leaf.js'
import type { OsProcess } from '../os-model.js'
import { PROCESS_OBJECT } from '../os-objects.js'
import type { ProcessObject } from '../os-objects.js'

export function coreLeaf(identity: string, process: OsProcess, lifetime: Leaf['lifetime']): Leaf {
  return plannedFileLeaf(identity, lifetime, process.mem, () => planCoreFile(process))
}

export const processCoreLeaf: LeafMapping<ProcessObject> = {
  on: PROCESS_OBJECT,
  name: 'core',
  leaf: (object) => coreLeaf(`${object.identity}/core`, object.value.process, object.lifetime),
}
