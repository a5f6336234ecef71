/**
 * os/NAME/processes/…/PID/modules/: the ELF images mapped in a process
 * (executable, shared objects, vdso), each a branch with info and mem.
 */
import type { BranchMapping } from '../../tree/index.js'
import { modulesBranch } from './module-branch.js'
import { PROCESS_OBJECT } from '../os-objects.js'
import type { ProcessObject } from '../os-objects.js'

export const processModulesBranch: BranchMapping<ProcessObject> = {
  on: PROCESS_OBJECT,
  name: 'modules',
  branch: (object, registry) => modulesBranch({
    registry,
    ownerIdentity: object.identity,
    lifetime: object.lifetime,
    osName: object.value.osName,
    os: object.value.os,
    process: object.value.process,
    list: () => object.value.process.modules(),
  }),
}
