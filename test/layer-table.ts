/**
 * The layer table of docs/architecture.md §2 (STYLE.md §5.1), in one place: which
 * folder of src/ may import which, the per-file exceptions with their
 * reasons, and the side doors. test/layers.test.ts checks the code against
 * it; scripts/lint-config.ts writes the same rules into .oxlintrc.json
 * (`no-restricted-imports`), and the layer test checks that file agrees.
 */

/** Layer → the layers it may import (besides itself and src/version.ts): the documented table. */
export const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  errors: [],
  // Native addons (native/NAME/, optional: every user keeps a pure-Node path).
  addons: ['errors'],
  // Host access for what clients ask: the checked open of a path a client named, the private state directory.
  host: ['errors'],
  mem: ['errors'],
  arch: ['errors', 'mem'],
  tree: ['errors', 'mem'],
  // Connectors implement mem's interface and register their features into the tree as mappings.
  connectors: ['errors', 'addons', 'host', 'mem', 'tree'],
  // An OS uses arch and mem, registers into the tree, and is opened on a connector (its memory and hints).
  os: ['errors', 'host', 'mem', 'arch', 'tree', 'connectors'],
  // net serves the tree.
  net: ['errors', 'addons', 'host', 'mem', 'tree'],
  // Plugins see only the tree's mapping API (exceptions below).
  plugins: ['errors', 'host', 'mem', 'tree'],
  // The composition root wires every kind together.
  node: ['errors', 'addons', 'host', 'mem', 'arch', 'tree', 'connectors', 'os', 'net', 'plugins'],
  // Frontends talk only to net (exceptions below).
  frontends: ['errors', 'addons', 'net'],
  // The library surface (src/index.ts and the npm subpaths) sits on top of everything except the frontends.
  api: ['errors', 'addons', 'host', 'mem', 'arch', 'tree', 'connectors', 'os', 'net', 'plugins', 'node'],
}

/** File (under src/) → layers it may import beyond its layer's row, and why. */
export const EXCEPTIONS: Readonly<Record<string, { readonly layers: readonly string[]; readonly reason: string }>> = {
  'frontends/cli/commands/serve-actions.ts': {
    layers: ['node'],
    reason: '`serve` starts a node (createNode, the composition root), importing node/index.ts lazily so a client command never loads it',
  },
  'frontends/cli/session.ts': {
    layers: ['node'],
    reason: '`--embedded` runs a node in the CLI process (createNode), imported lazily like serve',
  },
  'plugins/object-access.ts': {
    layers: ['connectors', 'os'],
    reason: 'the plugin host turns the objects plugins attach to (process, module, OS, connector: docs/architecture.md §7) into '
      + 'plugin descriptors and calls bound to one object; the plugin API itself (plugin-api.ts) imports nothing',
  },
  'plugins/sandbox/host-node.ts': {
    layers: ['connectors', 'os'],
    reason: "the sandbox host's view of the node's connectors and OSs, by name, which object-access.ts adapts",
  },
  'plugins/sandbox/plugin-run.ts': {
    layers: ['net'],
    reason: 'a sandboxed plugin speaks the node protocol\'s msgpack (docs/architecture.md §7): one codec (net/codec.ts), not a second copy',
  },
}

/** Files at the top of src/ and the layer they count as. */
export const ROOT_FILES: Readonly<Record<string, string>> = { 'index.ts': 'api' }

/**
 * Besides index.ts, the other doors into a layer: testing.ts (fakes, kept out of the production
 * index), the import-free plugin API, which `memweave/plugins` must load without the rest, the
 * import-free guards, which the sandboxed plugin runtime loads (it may read no other file of ours),
 * and net's client half, which the CLI's client commands load without the server (startup time).
 */
export const SIDE_DOORS = new Set(['plugins/plugin-api.js', 'errors/guards.js', 'net/client.js'])


/** The layers below src/ a file may not import at all. */
function forbidden(layer: string, extra: readonly string[]): string[] {
  return Object.keys(ALLOWED).filter((other) => other !== layer && !(ALLOWED[layer] ?? []).includes(other) && !extra.includes(other)).sort()
}

type Override = { files: string[]; rules: Record<string, unknown> }

function restriction(layer: string, extra: readonly string[]): Record<string, unknown> {
  const allowed = [...(ALLOWED[layer] ?? []), ...extra].sort()
  const doors = [...SIDE_DOORS].filter((door) => allowed.includes(door.split('/')[0] ?? ''))
  const patterns: { group: string[]; message: string }[] = []
  const banned = forbidden(layer, extra)
  if (banned.length > 0) {
    patterns.push({ group: banned.map((other) => `**/${other}/**`), message: `${layer} may import only ${allowed.join(', ') || 'nothing else'} (the layer table, test/layer-table.ts)` })
  }
  if (allowed.length > 0) {
    const group = allowed.flatMap((other) => [`**/${other}/**`, `!**/${other}/**/index.js`, ...(layer === 'api' ? [`!**/${other}/**/testing.js`] : [])])
    patterns.push({ group: [...group, ...doors.map((door) => `!**/${door}`)], message: 'another layer only through its index.ts' })
  }
  return { 'no-restricted-imports': ['error', { patterns }] }
}

/** The `overrides` of .oxlintrc.json that carry this table (unit tests are left out, as in the layer test). */
export function lintOverrides(): Override[] {
  const layers: Override[] = Object.keys(ALLOWED).filter((layer) => layer !== 'api').map((layer) => ({ files: [`src/${layer}/**`], rules: restriction(layer, []) }))
  const api: Override = { files: ['src/api/**', 'src/index.ts'], rules: restriction('api', []) }
  const files: Override[] = Object.entries(EXCEPTIONS).map(([from, { layers: extra }]) => ({ files: [`src/${from}`], rules: restriction(from.split('/')[0] ?? '', extra) }))
  const tests: Override = { files: ['src/**/*.test.ts', 'src/**/*.test.tsx'], rules: { 'no-restricted-imports': 'off' } }
  return [...layers, api, ...files, tests]
}
