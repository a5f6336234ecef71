/**
 * Checks a plugin manifest (from a built-in's definition or from a
 * sandboxed plugin's 'ready' message) before anything is registered:
 * names, attach kind, filter, leaf names. A bad manifest is refused with
 * the reason; nothing of it reaches the tree.
 */
import { MemweaveError, isRecord } from '../errors/index.js'
import { checkFilter, isAttachKind } from './object-filter.js'
import type { LeafManifest, PluginManifest } from './plugin-api.js'

const PLUGIN_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/
const LEAF_NAME = /^[A-Za-z0-9_][A-Za-z0-9._@+-]{0,127}$/
const MAX_LEAVES = 64
const MAX_TEXT = 1000


function invalid(message: string): MemweaveError {
  return new MemweaveError('plugin', 'invalid_argument', `plugin manifest: ${message}`)
}

function shortText(value: unknown): string {
  return typeof value === 'string' ? value.slice(0, MAX_TEXT) : ''
}

function checkLeaf(raw: unknown, index: number): LeafManifest {
  if (!isRecord(raw)) throw invalid(`leaf #${index} is not an object`)
  const name = raw['name']
  if (typeof name !== 'string' || !LEAF_NAME.test(name)) {
    throw invalid(`leaf name ${JSON.stringify(String(name)).slice(0, 80)} must match ${LEAF_NAME.source}`)
  }
  const leaf: LeafManifest = {
    name,
    branch: raw['branch'] === true,
    read: raw['read'] === true,
    rpc: raw['rpc'] === true,
    write: raw['write'] === true && raw['branch'] !== true,
    description: shortText(raw['description']),
  }
  if (!leaf.branch && !leaf.read && !leaf.rpc && !leaf.write) throw invalid(`leaf '${name}' has no read, rpc or write handler`)
  return leaf
}

/** Validates an untrusted manifest; returns a clean copy holding only known fields. */
export function validateManifest(raw: unknown): PluginManifest {
  if (!isRecord(raw)) throw invalid('not an object')
  const name = raw['name']
  if (typeof name !== 'string' || !PLUGIN_NAME.test(name)) throw invalid(`name must match ${PLUGIN_NAME.source}`)
  const version = raw['version']
  if (typeof version !== 'string' || version.length === 0 || version.length > 64) throw invalid(`plugin '${name}': version must be a string of 1 to 64 characters`)
  const attachesTo = raw['attachesTo']
  if (!isAttachKind(attachesTo)) throw invalid(`plugin '${name}': attachesTo must be process, module, os or connector`)
  const leavesRaw = raw['leaves']
  if (!Array.isArray(leavesRaw) || leavesRaw.length === 0) throw invalid(`plugin '${name}' defines no leaves or branches`)
  if (leavesRaw.length > MAX_LEAVES) throw invalid(`plugin '${name}' defines ${leavesRaw.length} leaves (limit ${MAX_LEAVES})`)
  const leaves = leavesRaw.map(checkLeaf)
  const seen = new Set<string>()
  for (const leaf of leaves) {
    if (seen.has(leaf.name)) throw invalid(`plugin '${name}' defines '${leaf.name}' twice`)
    seen.add(leaf.name)
  }
  let filter
  try {
    filter = checkFilter(raw['filter'], attachesTo)
  } catch (err) {
    throw new MemweaveError('plugin', 'invalid_argument', `plugin '${name}': ${err instanceof Error ? err.message : String(err)}`, { cause: err })
  }
  return {
    name,
    version,
    attachesTo,
    filter,
    needsWrite: raw['needsWrite'] === true,
    description: shortText(raw['description']),
    leaves,
    events: raw['events'] === true,
  }
}
