/**
 * The layer rule of docs/architecture.md §2 (STYLE.md §5.1), checked: each folder
 * of src/ imports only the layers the documented table (layer-table.ts) gives
 * it, and another layer only through its index.ts (or a named side door).
 * Static imports, re-exports, `import type`, dynamic `import()` and
 * `typeof import()` all count. Where the code needs more than the table, the
 * exception is listed in the table, per file, with its reason. Unit tests
 * (*.test.ts) are left out: they build their fixtures from lower layers (a
 * Tree in memory for a FUSE test).
 *
 * The linter (.oxlintrc.json, `no-restricted-imports`) carries the same
 * table for editors and `npm test`; the last test checks it says the same.
 */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { ALLOWED, EXCEPTIONS, ROOT_FILES, SIDE_DOORS, lintOverrides } from './layer-table.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const SRC = join(ROOT, 'src')

const IMPORTS = [
  /^(?:import|export)\s[^'"]*?from\s*'(\.[^']+)'/gm, // static imports and re-exports (also `import type`)
  /\bimport\(\s*'(\.[^']+)'\s*\)/g, // dynamic import() and `typeof import()`
]

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return sources(path)
    return /\.tsx?$/.test(entry.name) && !/\.test\.tsx?$/.test(entry.name) ? [path] : []
  })
}

function layerOf(from: string): string {
  return ROOT_FILES[from] ?? from.split('/')[0] ?? ''
}

function throughADoor(to: string): boolean {
  return to.endsWith('/index.js') || to.endsWith('/testing.js') || SIDE_DOORS.has(to)
}

/** Every relative import of a file, as a path under src/. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8')
  return IMPORTS.flatMap((pattern) => [...text.matchAll(pattern)].map((m) => relative(SRC, resolve(dirname(file), m[1] ?? ''))))
}

function mayImport(from: string, layer: string, targetLayer: string): boolean {
  return (ALLOWED[layer] ?? []).includes(targetLayer) || (EXCEPTIONS[from]?.layers.includes(targetLayer) ?? false)
}

test('every import stays in its layer or goes where the table allows, through an index.ts', () => {
  const problems: string[] = []
  for (const file of sources(SRC)) {
    const from = relative(SRC, file)
    const layer = layerOf(from)
    if (from === 'version.ts') continue
    for (const to of importsOf(file)) {
      if (to.startsWith('..') || to === 'version.js') continue
      if (to.endsWith('/testing.js') && layer !== 'api') problems.push(`${from} imports ${to}: fakes are for tests and memweave/testing only`)
      const targetLayer = to.split('/')[0] ?? ''
      if (targetLayer === layer) continue
      if (!mayImport(from, layer, targetLayer)) problems.push(`${from} imports ${to} (${layer} → ${targetLayer})`)
      if (!throughADoor(to)) problems.push(`${from} imports ${to} past the ${targetLayer} layer's index.ts`)
    }
  }
  assert.deepEqual(problems, [])
})

test('dynamic imports are seen too', () => {
  const file = join(SRC, 'frontends', 'cli', 'commands', 'serve-actions.ts')
  assert.ok(importsOf(file).some((to) => to === 'frontends/web/index.js'), 'serve-actions loads the web frontend with import()')
})

test('each exception is still needed', () => {
  for (const [from, { layers }] of Object.entries(EXCEPTIONS)) {
    const used = new Set(importsOf(join(SRC, from)).map((to) => to.split('/')[0]))
    for (const layer of layers) assert.ok(used.has(layer), `${from} no longer imports ${layer}: drop the exception`)
  }
})

test('the rule table names every folder of src/', () => {
  const folders = readdirSync(SRC, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort()
  assert.deepEqual(folders, Object.keys(ALLOWED).sort())
})

test('the linter carries the same table (.oxlintrc.json; rewrite it with scripts/lint-config.ts)', () => {
  const config: unknown = JSON.parse(readFileSync(join(ROOT, '.oxlintrc.json'), 'utf8'))
  assert.ok(typeof config === 'object' && config !== null && 'overrides' in config && Array.isArray(config.overrides))
  // The overrides that carry import rules; others (scripts/lint-config.ts's own, per file) say nothing of layers.
  const layerRules = config.overrides.filter((o: unknown) => typeof o === 'object' && o !== null && 'rules' in o
    && typeof o.rules === 'object' && o.rules !== null && 'no-restricted-imports' in o.rules)
  assert.deepEqual(layerRules, lintOverrides())
})
