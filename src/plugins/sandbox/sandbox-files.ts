/**
 * The files a sandboxed plugin process may read, prepared by the daemon in
 * a private work directory: the runtime (compiled JavaScript from dist/
 * with the one import-free module it shares with the daemon, errors/guards,
 * or bundled from the TypeScript sources with esbuild when running from a
 * checkout), msgpackr's single-file build, and a copy of the plugin.
 * TypeScript plugins (and plugins importing the plugin API for
 * definePlugin) are bundled from that copy with every import refused
 * except node: built-ins and the plugin API, so bundling never reads any
 * other file on the plugin's behalf. Without esbuild (an installed
 * package) a JavaScript plugin runs as written, and `memweave/plugins`
 * resolves to a copy of the plugin API in the work directory.
 */
import { existsSync, rmSync } from 'node:fs'
import { chmod, copyFile, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { builtinModules, createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { basename, dirname, extname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { MemweaveError, toMemweaveError } from '../../errors/index.js'

const HERE = dirname(fileURLToPath(import.meta.url))
/** Plugins are small: a bigger file is almost certainly the wrong one. */
const MAX_PLUGIN_BYTES = 4 * 1024 * 1024
/** Import specifiers that mean "memweave's plugin API" (for definePlugin); all resolve to plugin-api. */
const PLUGIN_API_IMPORT = /(^memweave(\/plugins)?$)|((^|\/)plugins\/(index|plugin-api)(\.[cm]?[jt]s)?$)|((^|\/)plugin-api(\.[cm]?[jt]s)?$)/

export interface RuntimeFiles {
  /** The runtime's entry module. */
  readonly entry: string
  /** msgpackr's dependency-free build, loaded by the runtime with require(). */
  readonly msgpackr: string
  /** Everything the runtime itself needs to read (files, or directories ending in '/'). */
  readonly readPaths: readonly string[]
}

type EsbuildModule = typeof import('esbuild')

async function esbuild(): Promise<EsbuildModule | undefined> {
  try {
    return await import('esbuild')
  } catch (err) {
    // Only present in a checkout (tsx depends on it); a built install runs the compiled runtime instead.
    if (err instanceof Error && 'code' in err && err.code === 'ERR_MODULE_NOT_FOUND') return undefined
    throw toMemweaveError(err, 'plugin', 'cannot load esbuild')
  }
}

function nearestPackageJson(from: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'package.json')
    if (dirname(dir) === dir) return undefined
  }
}

function msgpackrFile(): string {
  const main = createRequire(import.meta.url).resolve('msgpackr')
  const file = join(dirname(main), 'index-no-eval.cjs')
  if (!existsSync(file)) throw new MemweaveError('plugin', 'not_found', `msgpackr's single-file build is missing (${file})`)
  return file
}

const exitCleanups = new Map<string, () => void>()

/**
 * A private directory others may read (the plugin runs as another user) but
 * not write. It is removed by removeWorkDir, or at exit when the daemon
 * stops without waiting for its plugins.
 */
export async function makeWorkDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'memweave-plugins-'))
  await chmod(dir, 0o755)
  const cleanup = (): void => rmSync(dir, { recursive: true, force: true })
  exitCleanups.set(dir, cleanup)
  process.once('exit', cleanup)
  return dir
}

export async function removeWorkDir(dir: string): Promise<void> {
  const cleanup = exitCleanups.get(dir)
  if (cleanup !== undefined) process.off('exit', cleanup)
  exitCleanups.delete(dir)
  await rm(dir, { recursive: true, force: true })
}

export async function prepareRuntime(workDir: string): Promise<RuntimeFiles> {
  const msgpackr = msgpackrFile()
  const compiled = join(HERE, 'runtime', 'plugin-runtime.js')
  if (existsSync(compiled)) {
    const packageJson = nearestPackageJson(HERE)
    const shim = await installApiPackage(workDir)
    // The runtime imports one module outside its folder: the import-free guards (errors/guards.js).
    const guards = join(HERE, '..', '..', 'errors', 'guards.js')
    return { entry: compiled, msgpackr, readPaths: [`${join(HERE, 'runtime')}/`, guards, msgpackr, `${shim}/`, ...(packageJson === undefined ? [] : [packageJson])] }
  }
  const source = join(HERE, 'runtime', 'plugin-runtime.ts')
  const builder = await esbuild()
  if (builder === undefined || !existsSync(source)) {
    throw new MemweaveError('plugin', 'not_found', `the plugin runtime is neither compiled (${compiled}) nor buildable from ${source} (esbuild missing)`)
  }
  const entry = join(workDir, 'plugin-runtime.mjs')
  try {
    await builder.build({
      entryPoints: [source], bundle: true, format: 'esm', platform: 'node', target: 'node20', outfile: entry,
      external: ['msgpackr'], logLevel: 'silent', tsconfigRaw: '{}',
    })
  } catch (err) {
    throw toMemweaveError(err, 'plugin', 'cannot bundle the plugin runtime')
  }
  await chmod(entry, 0o644)
  return { entry, msgpackr, readPaths: [entry, msgpackr] }
}

function apiSource(): string {
  for (const name of ['plugin-api.js', 'plugin-api.ts']) {
    const candidate = join(HERE, '..', name)
    if (existsSync(candidate)) return candidate
  }
  throw new MemweaveError('plugin', 'not_found', 'plugin-api is missing next to the plugin host')
}

/**
 * Without esbuild (an installed package), a plugin is loaded as written, so
 * its `import … from 'memweave/plugins'` must resolve inside the sandbox:
 * the work directory gets node_modules/memweave with only that subpath,
 * a copy of the import-free plugin API. Returns the package directory.
 */
async function installApiPackage(workDir: string): Promise<string> {
  const dir = join(workDir, 'node_modules', 'memweave')
  try {
    await mkdir(dir, { recursive: true, mode: 0o755 })
    await chmod(join(workDir, 'node_modules'), 0o755)
    const packageJson = { name: 'memweave', type: 'module', exports: { './plugins': './plugins.js' } }
    await writeFile(join(dir, 'package.json'), `${JSON.stringify(packageJson)}\n`, { mode: 0o644 })
    await copyFile(apiSource(), join(dir, 'plugins.js'))
    await chmod(join(dir, 'plugins.js'), 0o644)
  } catch (err) {
    throw toMemweaveError(err, 'plugin', 'cannot prepare memweave/plugins for the sandbox')
  }
  return dir
}

let prepared = 0

/**
 * Copies (and, with esbuild, bundles) the plugin into the work directory;
 * returns the file the sandbox loads. Never follows the plugin's imports
 * beyond the plugin API.
 */
export async function preparePlugin(path: string, workDir: string): Promise<string> {
  let size: number
  try {
    const info = await stat(path)
    if (!info.isFile()) throw new MemweaveError('plugin', 'invalid_argument', `plugin '${path}' is not a regular file`)
    size = info.size
  } catch (err) {
    throw toMemweaveError(err, 'plugin', `cannot load plugin '${path}'`)
  }
  if (size > MAX_PLUGIN_BYTES) throw new MemweaveError('plugin', 'too_large', `plugin '${path}' is ${size} bytes (limit ${MAX_PLUGIN_BYTES}); plugins are single small files`)
  const ext = extname(path)
  if (!['.js', '.mjs', '.ts', '.mts'].includes(ext)) throw new MemweaveError('plugin', 'invalid_argument', `plugin '${path}' must be an ES module (.mjs, .js) or TypeScript (.ts, .mts)`)
  const id = `${++prepared}-${basename(path, ext).replace(/[^A-Za-z0-9._-]/g, '_')}`
  const copy = join(workDir, `${id}.source${ext}`)
  // The source copy is the daemon's alone (0600) and gone once the bundle is made: others never read the source.
  await copyFile(path, copy).catch((err: unknown) => { throw toMemweaveError(err, 'plugin', `cannot copy plugin '${path}'`) })
  await chmod(copy, 0o600)
  const out = join(workDir, `${id}.mjs`)
  try {
    const builder = await esbuild()
    if (builder === undefined) {
      if (ext === '.ts' || ext === '.mts') throw new MemweaveError('plugin', 'unsupported', `TypeScript plugin '${path}' needs esbuild; compile it to .mjs first`)
      await copyFile(copy, out)
    } else {
      await bundlePlugin(builder, copy, out, workDir, path)
    }
  } finally {
    await rm(copy, { force: true })
  }
  await chmod(out, 0o644)
  return out
}

async function bundlePlugin(builder: EsbuildModule, copy: string, out: string, workDir: string, original: string): Promise<void> {
  const api = apiSource()
  const builtins = new Set(builtinModules)
  try {
    await builder.build({
      entryPoints: [copy], bundle: true, format: 'esm', platform: 'node', target: 'node20', outfile: out, write: true,
      logLevel: 'silent', tsconfigRaw: '{}', absWorkingDir: workDir,
      plugins: [{
        name: 'memweave-plugin-imports',
        setup(build) {
          build.onResolve({ filter: /.*/ }, (args) => {
            if (args.kind === 'entry-point' || args.path === api) return undefined
            if (args.path.startsWith('node:') || builtins.has(args.path)) return { path: args.path, external: true }
            if (PLUGIN_API_IMPORT.test(args.path)) return { path: api }
            return { errors: [{ text: `import of '${args.path}' refused: a plugin is one file and may import only node: built-ins and memweave's plugin API` }] }
          })
        },
      }],
    })
  } catch (err) {
    // Only our own refusals are quoted; the bundler's messages quote the file (a plugin path may name a secret), so only places are given.
    const errors: unknown[] = err instanceof Error && 'errors' in err && Array.isArray(err.errors) ? err.errors : []
    const detail = errors.slice(0, 5).map((e) => {
      const text = typeof e === 'object' && e !== null && 'text' in e ? String(e.text) : ''
      if (text.startsWith('import of ') && text.includes(' refused: ')) return text
      const location = typeof e === 'object' && e !== null && 'location' in e && typeof e.location === 'object' && e.location !== null ? e.location as { line?: number; column?: number } : undefined
      return location?.line === undefined ? 'a build error' : `a syntax or build error at line ${location.line}:${location.column ?? 0}`
    }).join('; ')
    throw new MemweaveError('plugin', 'invalid_argument', `plugin '${original}' does not build: ${detail === '' ? 'the bundler failed' : detail.slice(0, 500)}`)
  }
}
