/**
 * A modules/ branch: kernel modules of an OS or ELF images of a process,
 * each shown as a MODULE_OBJECT branch so features (info, mem, plugins)
 * attach by mapping. Names are escaped path segments; when two modules
 * share a name the one with the lowest base keeps it and the others are
 * listed as NAME@0xBASE.
 */
import { hex } from '../../mem/index.js'
import type { Lifetime, MappingRegistry, TreeNode, Branch } from '../../tree/index.js'
import type { ModuleInfo, OsInstance, OsProcess } from '../os-model.js'
import { MODULE_OBJECT } from '../os-objects.js'
import { uniqueSegments } from './tree-names.js'

export interface ModulesBranchOptions {
  readonly registry: MappingRegistry
  /** Identity of the owner (OS or process); module identities extend it. */
  readonly ownerIdentity: string
  readonly lifetime: Lifetime
  readonly osName: string
  readonly os: OsInstance
  readonly process: OsProcess | undefined
  readonly list: () => Promise<ModuleInfo[]>
}

export function modulesBranch(options: ModulesBranchOptions): Branch {
  const nodeFor = (module: ModuleInfo): TreeNode => options.registry.objectBranch({
    class: MODULE_OBJECT,
    value: { osName: options.osName, os: options.os, process: options.process, module },
    identity: `${options.ownerIdentity}/module:${module.name}@${hex(module.base)}`,
    lifetime: options.lifetime,
  })
  return {
    type: 'branch',
    lifetime: options.lifetime,
    list: async () => [...uniqueSegments(await options.list()).keys()].map((name) => ({ name, type: 'branch' as const })),
    get: async (name) => {
      const module = uniqueSegments(await options.list()).get(name)
      return module === undefined ? undefined : nodeFor(module)
    },
  }
}
