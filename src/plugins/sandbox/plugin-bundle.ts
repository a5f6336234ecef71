/**
 * Turning a plugin path a client named into the bundle a sandbox runs. The
 * path is read with the daemon's privileges, so it is treated as an attack
 * (docs/access.md):
 *
 *   PATH ─▶ extension .mjs/.js/.ts/.mts ─▶ openCheckedFile (allowed roots, symlinks resolved and
 *        re-checked, regular file checked by stat before any open, O_NONBLOCK, size cap)
 *        ─▶ text? (no NUL, valid UTF-8) ─▶ esbuild from memory (stdin, write: false)
 *        ─▶ BUNDLE_DIR/N-NAME.mjs, 0600, in the daemon's private 0700 folder
 *
 * The source is never copied to disk; the bundle is read back by the daemon
 * and handed to the sandboxed process over its pipe (it runs as nobody and
 * could not read it). A refused file never reaches the bundler, and a
 * bundler failure names only places, never the file's content.
 */
import { close, read } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { builtinModules } from 'node:module'
import { basename, extname, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { openCheckedFile } from '../../host/index.js'
import { MemweaveError, quote, toMemweaveError } from '../../errors/index.js'
import { esbuild } from './esbuild-loader.js'
import type { EsbuildModule } from './esbuild-loader.js'
import { apiSource } from './sandbox-files.js'
import type { RuntimeFiles } from './sandbox-files.js'

/** Plugins are small: a bigger file is almost certainly the wrong one. */
export const MAX_PLUGIN_BYTES = 4 * 1024 * 1024
const EXTENSIONS = ['.js', '.mjs', '.ts', '.mts']
/** Import specifiers that mean "memweave's plugin API" (for definePlugin); all resolve to plugin-api. */
const PLUGIN_API_IMPORT = /(^memweave(\/plugins)?$)|((^|\/)plugins\/(index|plugin-api)(\.[cm]?[jt]s)?$)|((^|\/)plugin-api(\.[cm]?[jt]s)?$)/
/** The same imports as they appear in a module run as written (no esbuild): `from 'memweave/plugins'`, `import('memweave')`. */
const PLUGIN_API_SPECIFIER = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])memweave(?:\/plugins)?\2/g

export interface PluginSourceOptions {
  /** Folders a plugin must lie in; undefined: any (an in-process node, whose caller has its own privileges). */
  readonly roots: readonly string[] | undefined
}

const readAt = promisify(read)
const closeFd = promisify(close)

/** Reads up to sizeBytes from a checked descriptor (a regular file, so reads never block for long). */
async function readFd(fd: number, sizeBytes: number): Promise<Buffer> {
  const buffer = Buffer.alloc(sizeBytes)
  let done = 0
  while (done < buffer.length) {
    const { bytesRead } = await readAt(fd, buffer, done, buffer.length - done, done)
    if (bytesRead === 0) break
    done += bytesRead
  }
  return buffer.subarray(0, done)
}

function refuse(path: string, why: string): MemweaveError {
  return new MemweaveError('plugin', 'invalid_argument', `plugin ${quote(path, 200)} ${why}`)
}

/** Reads the plugin's source under the access rules; the text never appears in an error. */
export async function readPluginSource(path: string, options: PluginSourceOptions): Promise<{ text: string; real: string }> {
  if (!EXTENSIONS.includes(extname(path))) throw refuse(path, 'must be an ES module (.mjs, .js) or TypeScript (.ts, .mts)')
  let bytes: Buffer
  let real: string
  try {
    const file = await openCheckedFile(path, { origin: 'plugin', roots: options.roots, what: 'plugin', maxBytes: MAX_PLUGIN_BYTES, rootHint: 'serve --plugin-root DIR (or plugin_roots in the config)' })
    real = file.path
    try {
      bytes = await readFd(file.fd, Number(file.stats.size))
    } finally {
      await closeFd(file.fd)
    }
  } catch (err) {
    const error = toMemweaveError(err, 'plugin', `cannot load plugin ${quote(path, 200)}`)
    throw new MemweaveError('plugin', error.kind, error.message, { cause: err })
  }
  // A link named x.mjs to a file that is not one: its real name must say JavaScript or TypeScript too.
  if (!EXTENSIONS.includes(extname(real))) throw refuse(path, `resolves to ${quote(real, 200)}, which is not an ES module or TypeScript file`)
  if (bytes.includes(0)) throw refuse(path, 'is not a text file (it holds NUL bytes)')
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch (err) {
    throw new MemweaveError('plugin', 'invalid_argument', `plugin ${quote(path, 200)} is not UTF-8 text`, { cause: err })
  }
  return { text, real }
}

let prepared = 0

/**
 * Reads, checks and bundles a plugin into bundleDir (the daemon's private
 * folder); returns the bundle's path. Never follows the plugin's imports
 * beyond node: built-ins and the plugin API.
 */
export async function preparePlugin(path: string, bundleDir: string, runtime: RuntimeFiles | undefined, options: PluginSourceOptions): Promise<string> {
  const { text } = await readPluginSource(path, options)
  const ext = extname(path)
  const builder = await esbuild()
  let code: string
  if (builder !== undefined) {
    code = await bundlePlugin(builder, text, ext, bundleDir, path)
  } else {
    if (ext === '.ts' || ext === '.mts') throw new MemweaveError('plugin', 'unsupported', `TypeScript plugin ${quote(path, 200)} needs esbuild; compile it to .mjs first`)
    code = runAsWritten(text, runtime)
  }
  const out = join(bundleDir, `${++prepared}-${basename(path, ext).replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 60)}.mjs`)
  try {
    // wx: never through a file (or link) already there; 0600: the daemon's alone (the sandbox gets it over its pipe).
    await writeFile(out, code, { mode: 0o600, flag: 'wx' })
  } catch (err) {
    throw toMemweaveError(err, 'plugin', `cannot write the bundle of plugin ${quote(path, 200)}`)
  }
  return out
}

/**
 * Without esbuild (an installed package) a JavaScript plugin runs as written;
 * the sandbox imports it from memory, where `memweave/plugins` cannot be
 * resolved, so that specifier is pointed at the API copy beside the runtime.
 */
function runAsWritten(text: string, runtime: RuntimeFiles | undefined): string {
  const api = runtime?.apiModule
  if (api === undefined) return text
  const url = pathToFileURL(api).href
  return text.replace(PLUGIN_API_SPECIFIER, (_all, lead: string, q: string) => `${lead}${q}${url}${q}`)
}

async function bundlePlugin(builder: EsbuildModule, text: string, ext: string, bundleDir: string, original: string): Promise<string> {
  const api = apiSource()
  const builtins = new Set(builtinModules)
  try {
    const result = await builder.build({
      stdin: { contents: text, loader: ext === '.ts' || ext === '.mts' ? 'ts' : 'js', sourcefile: `plugin${ext}`, resolveDir: bundleDir },
      bundle: true, format: 'esm', platform: 'node', target: 'node20', write: false,
      logLevel: 'silent', tsconfigRaw: '{}', absWorkingDir: bundleDir,
      plugins: [{
        name: 'memweave-plugin-imports',
        setup(build) {
          build.onResolve({ filter: /.*/ }, (args) => {
            if (args.path === api) return undefined
            if (args.path.startsWith('node:') || builtins.has(args.path)) return { path: args.path, external: true }
            if (PLUGIN_API_IMPORT.test(args.path)) return { path: api }
            return { errors: [{ text: `import of ${quote(args.path, 60)} refused: a plugin is one file and may import only node: built-ins and memweave's plugin API` }] }
          })
        },
      }],
    })
    const output = result.outputFiles?.[0]
    if (output === undefined) throw new MemweaveError('plugin', 'internal', `plugin ${quote(original, 200)}: the bundler produced nothing`)
    return output.text
  } catch (err) {
    if (err instanceof MemweaveError) throw err
    // Only our own refusals are quoted; the bundler's messages quote the file (a plugin may be someone's secret), so only places are given.
    const errors: unknown[] = err instanceof Error && 'errors' in err && Array.isArray(err.errors) ? err.errors : []
    const detail = errors.slice(0, 5).map((e) => {
      const message = typeof e === 'object' && e !== null && 'text' in e ? String(e.text) : ''
      if (message.startsWith('import of ') && message.includes(' refused: ')) return message
      const location = typeof e === 'object' && e !== null && 'location' in e && typeof e.location === 'object' && e.location !== null ? e.location as { line?: number; column?: number } : undefined
      return location?.line === undefined ? 'a build error' : `a syntax or build error at line ${location.line}:${location.column ?? 0}`
    }).join('; ')
    throw new MemweaveError('plugin', 'invalid_argument', `plugin ${quote(original, 200)} does not build: ${detail === '' ? 'the bundler failed' : detail.slice(0, 500)}`)
  }
}
