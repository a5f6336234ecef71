/**
 * Builds the bundled client CLI, dist/cli/memweave.js (run by `npm run build`
 * after tsc, from the compiled dist/src): the command definitions in one ES
 * module, and each command's implementation in a chunk beside it, loaded by
 * its action. Every command is a fresh process, and a bundle spares it
 * resolving, opening and compiling a hundred small modules (about a fifth
 * of a client command's startup). bin/memweave.js runs it for the client
 * commands only; `serve`, `mount`, `gdbserver`, `web` and `--embedded` run
 * the unbundled dist/src, where the node finds its files beside its modules
 * (the plugin sandbox's runtime, the web page). Here they are left out:
 * their imports become a module that throws, which bin never reaches.
 */
import { rm } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import type { Plugin } from 'esbuild'

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const ENTRY = join(REPO, 'dist', 'src', 'frontends', 'cli', 'main.js')
const OUT = process.argv[2] === undefined ? join(REPO, 'dist', 'cli') : resolve(process.argv[2])

/** The node (for --embedded) and the long-running frontends' commands: never in the bundle. */
const UNBUNDLED = /^(\.\.\/\.\.\/node\/index\.js|\.\/(serve|mount|gdbserver|web)-actions\.js)$/

const leaveOut: Plugin = {
  name: 'memweave-unbundled',
  setup(bundler) {
    bundler.onResolve({ filter: UNBUNDLED }, (args) => ({ path: args.path, namespace: 'unbundled' }))
    bundler.onLoad({ filter: /.*/, namespace: 'unbundled' }, (args) => ({
      contents: `throw new Error(${JSON.stringify(`${args.path} is not in the bundled CLI; bin/memweave.js runs this command from dist/src`)})`,
      loader: 'js',
    }))
    // msgpackr's optional native string decoder: finding and loading it (detect-libc reads the ELF interpreter,
    // then a dlopen) costs a client command about 8 ms, and a client decodes only small messages. Absent here.
    bundler.onResolve({ filter: /^msgpackr-extract$/ }, () => ({ path: 'msgpackr-extract', namespace: 'absent' }))
    bundler.onLoad({ filter: /.*/, namespace: 'absent' }, () => ({ contents: 'module.exports = undefined', loader: 'js' }))
  },
}

await rm(OUT, { recursive: true, force: true })
await build({
  entryPoints: { memweave: ENTRY },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outdir: OUT,
  // Native code stays where it is: the addons (found from import.meta.url, as in dist/src) and optional native packages.
  external: ['*.node', 'fuse-native', 'bufferutil', 'utf-8-validate'],
  // The CommonJS packages inside (commander, ws) call require() for Node's modules.
  banner: { js: "import { createRequire as __memweaveRequire } from 'node:module'; const require = __memweaveRequire(import.meta.url);" },
  plugins: [leaveOut],
  logLevel: 'warning',
  legalComments: 'none',
})
process.stdout.write(`CLI bundled in ${OUT}\n`)
