/**
 * The one registration path: a plugin (built-in or sandboxed) becomes
 * mappings on its object class, one per leaf or branch, each with the
 * plugin's filter as `appliesTo` and the plugin's name as owner. The
 * registry refuses a leaf name already taken on that kind.
 */
import type { Branch, BranchMapping, Entry, LeafMapping, Mapping, TreeObject } from '../tree/index.js'
import { CONNECTOR_TARGET, MODULE_TARGET, OS_TARGET, PROCESS_TARGET } from './object-access.js'
import type { AttachTarget, ObjectAccess } from './object-access.js'
import { compileFilter } from './object-filter.js'
import type { LeafManifest } from './plugin-api.js'
import type { PluginBackend } from './plugin-backend.js'
import { checkChildName, pluginLeaf } from './plugin-leaf.js'
import { RpcProgress } from './rpc-progress.js'

function pluginBranch<T>(object: TreeObject<T>, access: ObjectAccess, leaf: LeafManifest, backend: PluginBackend, progress: RpcProgress): Branch {
  const identity = `${object.identity}/${leaf.name}`
  const children = async (): Promise<string[]> => {
    const names = await backend.list({ access, leaf: leaf.name, child: undefined })
    return [...new Set(names.map((n) => checkChildName(backend.manifest.name, n)))]
  }
  const childLeaf = (child: string) => pluginLeaf({
    identity: `${identity}/${child}`, objectLifetime: object.lifetime, access, leaf, child, backend, progress,
  })
  return {
    type: 'branch',
    lifetime: object.lifetime,
    list: async (): Promise<Entry[]> => (await children()).map((name) => ({ name, type: 'leaf', meta: {
      sizeBytes: undefined, readable: true, writable: false, rpc: leaf.rpc, content: leaf.rpc && !leaf.read ? 'rpc' : 'text',
    } })),
    get: async (name) => ((await children()).includes(name) ? childLeaf(name) : undefined),
  }
}

function mappingsOn<T>(target: AttachTarget<T>, backend: PluginBackend): Mapping<T>[] {
  const { manifest } = backend
  const admits = compileFilter(manifest.filter)
  const progress = new RpcProgress()
  const appliesTo = (value: T): boolean => admits(target.access(value).descriptor)
  return manifest.leaves.map((leaf): Mapping<T> => {
    if (leaf.branch) {
      const mapping: BranchMapping<T> = {
        on: target.class, name: leaf.name, owner: manifest.name, appliesTo,
        branch: (object) => pluginBranch(object, target.access(object.value), leaf, backend, progress),
      }
      return mapping
    }
    const mapping: LeafMapping<T> = {
      on: target.class, name: leaf.name, owner: manifest.name, appliesTo,
      leaf: (object) => pluginLeaf({
        identity: `${object.identity}/${leaf.name}`, objectLifetime: object.lifetime, access: target.access(object.value),
        leaf, child: undefined, backend, progress,
      }),
    }
    return mapping
  })
}

/** The mappings of one plugin, typed for a node's mixed mapping list. */
export function pluginMappings(backend: PluginBackend): Mapping<never>[] {
  switch (backend.manifest.attachesTo) {
    case 'process': return mappingsOn(PROCESS_TARGET, backend)
    case 'module': return mappingsOn(MODULE_TARGET, backend)
    case 'os': return mappingsOn(OS_TARGET, backend)
    case 'connector': return mappingsOn(CONNECTOR_TARGET, backend)
  }
}
