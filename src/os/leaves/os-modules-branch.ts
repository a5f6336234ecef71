/**
 * os/NAME/modules/: the kernel's modules (Linux: /proc/modules or the
 * guest's module list), each a branch with info and, where the OS can read
 * kernel memory, mem.
 */
import type { BranchMapping } from '../../tree/index.js'
import { modulesBranch } from './module-branch.js'
import { OS_OBJECT } from '../os-objects.js'
import type { NamedOs } from '../os-objects.js'

export const osModulesBranch: BranchMapping<NamedOs> = {
  on: OS_OBJECT,
  name: 'modules',
  branch: (object, registry) => modulesBranch({
    registry,
    ownerIdentity: object.identity,
    lifetime: object.lifetime,
    osName: object.value.name,
    os: object.value.os,
    process: undefined,
    list: () => object.value.os.kernelModules(),
  }),
}
