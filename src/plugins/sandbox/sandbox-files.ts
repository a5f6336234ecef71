/**
 * The files a sandboxed plugin process may read, prepared by the daemon in
 * a public work directory (the plugin runs as another user): the runtime
 * (compiled JavaScript from dist/, with the one import-free module it
 * shares with the daemon, errors/guards.js, or bundled from the TypeScript
 * sources with esbuild when running from a checkout), msgpackr's single-file build,
 * and, for an installed package, `memweave/plugins` (a copy of the plugin
 * API). All of it is memweave's own code. Plugins themselves never come
 * here: plugin-bundle.ts bundles them into the daemon's private folder
 * (bundle-dir.ts) and the sandbox gets each over its pipe.
 */
import { existsSync, rmSync } from 'node:fs'
import { chmod, copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { MemweaveError, toMemweaveError } from '../../errors/index.js'
import { esbuild } from './esbuild-loader.js'

const HERE = dirname(fileURLToPath(import.meta.url))
export interface RuntimeFiles {
  /** The runtime's entry module. */
  readonly entry: string
  /** msgpackr's dependency-free build, loaded by the runtime with require(). */
  readonly msgpackr: string
  /** Everything the runtime itself needs to read (files, or directories ending in '/'). */
  readonly readPaths: readonly string[]
  /** The `memweave/plugins` copy a plugin run as written imports (installed package, no esbuild). */
  readonly apiModule?: string
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
 * The public runtime directory: others may read it (the plugin runs as
 * another user) but not write. It holds only memweave's own code. It is removed by removeWorkDir, or at exit when the daemon
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
    return { entry: compiled, msgpackr, readPaths: [`${join(HERE, 'runtime')}/`, guards, msgpackr, `${shim}/`, ...(packageJson === undefined ? [] : [packageJson])], apiModule: join(shim, 'plugins.js') }
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

export function apiSource(): string {
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

