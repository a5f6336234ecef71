/**
 * The PluginContext handed to built-in handlers, bound to one object's
 * access. The sandbox runtime builds the same interface from callbacks;
 * both refuse objects other than the one granted.
 */
import { MemweaveError } from '../errors/index.js'
import type { ObjectAccess } from './object-access.js'
import { descriptorKey } from './object-access.js'
import type { ObjectDescriptor, PluginContext, PluginManifest } from './plugin-api.js'
import type { ProgressSink } from './plugin-backend.js'

function checkObject(manifest: PluginManifest, access: ObjectAccess, object: ObjectDescriptor | undefined): void {
  if (object !== undefined && descriptorKey(object) !== descriptorKey(access.descriptor)) {
    throw new MemweaveError('plugin', 'permission', `plugin '${manifest.name}' may only use the object of its call (${descriptorKey(access.descriptor)}), not ${descriptorKey(object)}`)
  }
}

export function contextFor(manifest: PluginManifest, access: ObjectAccess, signal: AbortSignal, progress: ProgressSink = () => {}): PluginContext {
  return {
    object: access.descriptor,
    signal,
    read: async (pieces, object) => {
      checkObject(manifest, access, object)
      return access.read(pieces.map((p) => ({ addr: BigInt(p.addr), length: p.length })))
    },
    write: async (pieces, object) => {
      checkObject(manifest, access, object)
      if (!manifest.needsWrite) throw new MemweaveError('plugin', 'permission', `plugin '${manifest.name}' did not ask for writes (needsWrite) in its manifest`)
      return access.write(pieces.map((p) => ({ addr: BigInt(p.addr), data: p.data })))
    },
    ranges: () => access.ranges(),
    maps: () => access.maps(),
    info: () => access.info(),
    modules: () => access.modules(),
    environ: () => access.environ(),
    progress,
  }
}
