/**
 * Extracts the manifest (the data part) from a plugin definition. Runs in
 * the sandbox on untrusted definitions and in the daemon on built-ins; the
 * daemon validates every manifest it receives (manifest-check.ts), so this
 * only reshapes and never trusts: fields pass through unchecked.
 */
import type { LeafManifest } from '../../plugin-api.js'
import { isRecord } from '../../../errors/guards.js'


function text(value: unknown): string {
  return typeof value === 'string' ? value : ''
}

function handlers(table: unknown, branch: boolean): LeafManifest[] {
  if (!isRecord(table)) return []
  return Object.entries(table).map(([name, handler]): LeafManifest => {
    const h = isRecord(handler) ? handler : {}
    return {
      name,
      branch,
      read: typeof h['read'] === 'function',
      rpc: typeof h['rpc'] === 'function',
      write: !branch && typeof h['write'] === 'function',
      description: text(h['description']),
    }
  })
}

/** The definition a plugin module exports: `plugin` (preferred) or a default export. */
export function definitionOf(module: unknown): unknown {
  if (!isRecord(module)) return undefined
  return module['plugin'] ?? module['default']
}

/** The manifest as sent to the daemon: PluginManifest's shape, unchecked (validateManifest checks it). */
export function manifestOf(definition: unknown): Record<string, unknown> {
  if (!isRecord(definition)) throw new Error('the plugin module must export `plugin`, an object made with definePlugin({...})')
  return {
    name: definition['name'],
    version: definition['version'],
    attachesTo: definition['attachesTo'],
    filter: definition['filter'] ?? {},
    needsWrite: definition['needsWrite'] === true,
    description: text(definition['description']),
    leaves: [...handlers(definition['leaves'], false), ...handlers(definition['branches'], true)],
    events: typeof definition['onEvent'] === 'function',
  }
}
