/**
 * The layer rule of docs/architecture.md §2, checked: each folder of src/ imports only
 * the layers below it, and another layer only through an index.ts. The
 * composition root is src/node/create-node.ts (createNode); the CLI's serve
 * and --embedded start a node through it (a lazy import of node/index.ts),
 * the only places a frontend reaches the node layer.
 */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'src')

/** Layer → the layers it may import (besides itself and src/version.ts). */
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  errors: [],
  mem: ['errors'],
  tree: ['errors', 'mem'],
  arch: ['errors', 'mem'],
  connectors: ['errors', 'mem', 'tree'],
  os: ['errors', 'mem', 'tree', 'arch', 'connectors'],
  net: ['errors', 'mem', 'tree'],
  plugins: ['errors', 'mem', 'tree', 'connectors', 'os', 'net'],
  node: ['errors', 'mem', 'tree', 'arch', 'connectors', 'os', 'net', 'plugins'],
  frontends: ['errors', 'mem', 'tree', 'net'],
  // The library surface (src/index.ts and the npm subpaths) sits on top of everything except the frontends.
  api: ['errors', 'mem', 'tree', 'arch', 'connectors', 'os', 'net', 'plugins', 'node'],
}

/** Files at the top of src/ and the layer they count as. */
const ROOT_FILES: Readonly<Record<string, string>> = { 'index.ts': 'api' }

/**
 * Besides index.ts, the other doors into a layer: testing.ts (fakes, kept out of the production
 * index), the import-free plugin API, which `memweave/plugins` must load without the rest, and the
 * import-free guards, which the sandboxed plugin runtime loads (it may read no other file of ours).
 */
const SIDE_DOORS = new Set(['testing.js', 'plugins/plugin-api.js', 'errors/guards.js'])

/** Where a frontend starts a node (createNode), so it may import the node layer. */
const COMPOSITION_ROOTS = new Set(['frontends/cli/commands/serve-command.ts', 'frontends/cli/session.ts'])

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return sources(path)
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : []
  })
}

function layerOf(file: string): string {
  const from = relative(SRC, file)
  return ROOT_FILES[from] ?? from.split('/')[0] ?? ''
}

function throughADoor(to: string): boolean {
  return to.endsWith('index.js') || to.endsWith('/testing.js') || SIDE_DOORS.has(to)
}

test('every import stays in its layer or goes down, through an index.ts', () => {
  const problems: string[] = []
  for (const file of sources(SRC)) {
    const from = relative(SRC, file)
    const layer = layerOf(file)
    if (from === 'version.ts') continue
    const text = readFileSync(file, 'utf8')
    for (const match of text.matchAll(/^(?:import|export)[^'"]*from '(\.[^']+)'/gm)) {
      const target = resolve(dirname(file), match[1] ?? '')
      const to = relative(SRC, target)
      if (to.startsWith('..') || to === 'version.js') continue
      if (to.endsWith('/testing.js') && layer !== 'api') problems.push(`${from} imports ${to}: fakes are for tests and memweave/testing only`)
      const targetLayer = to.split('/')[0] ?? ''
      if (targetLayer === layer) continue
      const allowed = ALLOWED[layer] ?? []
      const root = COMPOSITION_ROOTS.has(from)
      if (!allowed.includes(targetLayer) && !root) problems.push(`${from} imports ${to} (${layer} → ${targetLayer})`)
      if (!throughADoor(to)) problems.push(`${from} imports ${to} past the ${targetLayer} layer's index.ts`)
    }
  }
  assert.deepEqual(problems, [])
})

test('the rule table names every folder of src/', () => {
  const folders = readdirSync(SRC, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort()
  assert.deepEqual(folders, Object.keys(ALLOWED).sort())
})
