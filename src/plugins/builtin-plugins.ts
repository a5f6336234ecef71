/**
 * The built-in plugins, as one list of definitions and as the mappings the
 * composition root registers (through the same path as user plugins:
 * definition → manifest check → backend → mappings). Two plugins with one
 * name throw here, at load.
 */
import { MemweaveError } from '../errors/index.js'
import type { Mapping } from '../tree/index.js'
import { bashHistoryPlugin } from './builtins/bash-history.js'
import { environPlugin } from './builtins/environ.js'
import { scanConnectorPlugin, scanProcessPlugin } from './builtins/scan.js'
import { stringsPlugin } from './builtins/strings.js'
import { InProcessBackend } from './in-process-backend.js'
import type { PluginDefinition, PluginManifest } from './plugin-api.js'
import { pluginMappings } from './plugin-mappings.js'

export const builtinPlugins: readonly PluginDefinition[] = [environPlugin, stringsPlugin, scanProcessPlugin, scanConnectorPlugin, bashHistoryPlugin]

/** In-process backends for definitions; a repeated plugin name throws. */
export function inProcessBackends(definitions: readonly PluginDefinition[]): InProcessBackend[] {
  const seen = new Set<string>()
  return definitions.map((definition) => {
    const backend = new InProcessBackend(definition)
    if (seen.has(backend.manifest.name)) throw new MemweaveError('plugin', 'already_exists', `two built-in plugins are named '${backend.manifest.name}'`)
    seen.add(backend.manifest.name)
    return backend
  })
}

const BUILTIN_BACKENDS = inProcessBackends(builtinPlugins)

/** Manifests of the built-ins, for listings and name clashes. */
export const BUILTIN_PLUGIN_MANIFESTS: readonly PluginManifest[] = BUILTIN_BACKENDS.map((b) => b.manifest)

/** Register these with the node (NodeOptions.mappings), next to the OS and connector mappings. */
export const BUILTIN_PLUGIN_MAPPINGS: readonly Mapping<never>[] = BUILTIN_BACKENDS.flatMap((b) => pluginMappings(b))
