/**
 * modules/NAME/info: JSON facts of one module (name, base, size, path, and
 * whatever extra the OS kind knows, e.g. refcount and state for kernel modules).
 */
import { jsonLeaf } from '../../tree/index.js'
import type { LeafMapping } from '../../tree/index.js'
import { MODULE_OBJECT } from '../os-objects.js'
import type { ModuleObject } from '../os-objects.js'

export const moduleInfoLeaf: LeafMapping<ModuleObject> = {
  on: MODULE_OBJECT,
  name: 'info',
  leaf: (object) => jsonLeaf(`${object.identity}/info`, object.lifetime, () => {
    const { module, process } = object.value
    return {
      name: module.name,
      base: module.base,
      sizeBytes: module.sizeBytes,
      path: module.path ?? null,
      pid: process?.ref.pid ?? null,
      ...module.extra,
    }
  }),
}
