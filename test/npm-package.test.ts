/**
 * The npm package as a user gets it: `npm pack` (its prepack builds
 * dist/ from a copy of the sources, so the running tests' dist/ is never
 * rewritten), installed OFFLINE into an empty project with npm ci (the
 * dependencies pinned by the repo's lock file, taken from npm's cache), then:
 * a script imports `memweave`, opens a guest dump and lists its processes;
 * a TypeScript consumer and plugin type-check against the shipped types; the
 * compiled plugin (importing `memweave/plugins`) loads into the sandbox of a
 * node made by the package and reads the guest's memory.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { chmod, cp, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { linuxFixtures, NO_FIXTURES_REASON } from './linux-kit.js'

const run = promisify(execFile)
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const FIXTURES = join(REPO, 'test', 'package-fixtures')
const EXAMPLES = join(REPO, 'examples', 'package')
const fixture = linuxFixtures().find((f) => f.variant === 'plain') ?? linuxFixtures()[0]
/** What a published package is made of (package.json "files" decides what of it ships). */
const SOURCES = ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md', 'bin', 'src', 'docs', 'scripts/build-web.ts', 'scripts/build-cli.ts']

async function npm(args: readonly string[], cwd: string): Promise<string> {
  const { stdout } = await run('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, maxBuffer: 16 << 20, env: { ...process.env, npm_config_update_notifier: 'false' } })
  return stdout
}

/** The app's lock file: memweave from the tarball, every other package exactly as the repo's lock pins it. */
async function appLock(tarball: string): Promise<{ manifest: object; lock: object }> {
  const repoLock: unknown = JSON.parse(await readFile(join(REPO, 'package-lock.json'), 'utf8'))
  const repoPackages = typeof repoLock === 'object' && repoLock !== null && 'packages' in repoLock && typeof repoLock.packages === 'object' && repoLock.packages !== null ? repoLock.packages : {}
  const own: unknown = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8'))
  const dependencies = typeof own === 'object' && own !== null && 'dependencies' in own ? own.dependencies : {}
  const spec = `file:${tarball}`
  const packages: Record<string, unknown> = {
    '': { name: 'app', dependencies: { memweave: spec } },
    'node_modules/memweave': { version: '0.1.0', resolved: spec, dependencies, bin: { memweave: 'bin/memweave.js' } },
  }
  for (const [path, entry] of Object.entries(repoPackages)) {
    const isDev = typeof entry === 'object' && entry !== null && 'dev' in entry && entry.dev === true
    if (path !== '' && !isDev) packages[path] = entry
  }
  return {
    manifest: { name: 'app', private: true, type: 'module', dependencies: { memweave: spec } },
    lock: { name: 'app', lockfileVersion: 3, requires: true, packages },
  }
}

function heapPattern(): { pid: number; address: string; bytes: string } {
  const pattern = fixture?.truth.patterns.find((p) => p.kind === 'heap')
  assert.ok(pattern !== undefined, 'the fixture has a heap pattern')
  return pattern
}

/** The pattern's first 32 bytes as text (the patterns are ASCII). */
function patternText(pattern: { bytes: string }): string {
  return Buffer.from(pattern.bytes.slice(0, 64), 'hex').toString('latin1')
}

describe('the npm package, packed and installed into an empty project', { skip: fixture === undefined ? NO_FIXTURES_REASON : false }, () => {
  let dir = ''
  let app = ''

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'memweave-package-'))
    // The sandboxed plugin runs as nobody and must reach the installed runtime.
    await chmod(dir, 0o755)
    const copy = join(dir, 'source')
    await mkdir(copy)
    for (const name of SOURCES) await cp(join(REPO, name), join(copy, name), { recursive: true }).catch((err: unknown) => { if (name !== 'docs') throw err })
    await symlink(join(REPO, 'node_modules'), join(copy, 'node_modules'))
    await npm(['pack', '--pack-destination', dir], copy)
    const tarball = (await readdir(dir)).find((f) => f.endsWith('.tgz'))
    assert.ok(tarball !== undefined, 'npm pack made a tarball')
    app = join(dir, 'app')
    await mkdir(app)
    const { manifest, lock } = await appLock(join(dir, tarball))
    await writeFile(join(app, 'package.json'), JSON.stringify(manifest))
    await writeFile(join(app, 'package-lock.json'), JSON.stringify(lock))
    try {
      await npm(['ci', '--offline'], app)
    } catch (err) {
      // A cache without some tarball (a fresh machine that never ran npm ci): let npm fetch just those.
      process.stderr.write(`npm ci --offline failed (${String(err).split('\n')[0] ?? ''}); retrying with --prefer-offline\n`)
      await npm(['ci', '--prefer-offline'], app)
    }
    for (const name of ['list-processes.mjs', 'consumer.ts', 'load-plugin.mjs', 'tsconfig.json']) await cp(join(FIXTURES, name), join(app, name))
    // The examples a user copies, built and run here against the package.
    for (const name of ['heap-grep.ts', 'plugin.ts']) await cp(join(EXAMPLES, name), join(app, name))
  })

  after(async () => {
    if (dir !== '') await rm(dir, { recursive: true, force: true })
  })

  it('ships the build, the types and the bin, and no tests', async () => {
    const root = join(app, 'node_modules', 'memweave')
    const files = (await readdir(root, { recursive: true })).map(String)
    for (const needed of ['dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/api/plugins.d.ts', 'dist/src/api/mem.js', 'dist/src/api/testing.js', 'bin/memweave.js', 'dist/cli/memweave.js']) {
      assert.ok(files.includes(needed), `${needed} is in the package`)
    }
    assert.deepEqual(files.filter((f) => /\.test\.|\.case\.|^src\/|^test\/|\.map$/.test(f)), [])
    const { stdout } = await run(join(app, 'node_modules', '.bin', 'memweave'), ['--version'], { cwd: app })
    assert.match(stdout, /\d+\.\d+\.\d+/)
  })

  it("a script importing 'memweave' opens a guest dump and lists its processes", async () => {
    assert.ok(fixture !== undefined)
    const { stdout } = await run('node', ['list-processes.mjs', fixture.dump], { cwd: app, maxBuffer: 16 << 20 })
    const listed = new Map((JSON.parse(stdout) as [number, string][]))
    for (const p of fixture.truth.processes) assert.equal(listed.get(p.pid), p.name, `pid ${p.pid}`)
  })

  it('a TypeScript consumer and a plugin type-check against the shipped types', async () => {
    const tsc = join(REPO, 'node_modules', '.bin', 'tsc')
    await run(tsc, ['-p', 'tsconfig.json', '--typeRoots', join(REPO, 'node_modules', '@types')], { cwd: app }).catch((err: unknown) => {
      const out = typeof err === 'object' && err !== null && 'stdout' in err ? String(err.stdout) : String(err)
      assert.fail(`tsc failed:\n${out}`)
    })
    const emitted = await readFile(join(app, 'out', 'plugin.js'), 'utf8')
    assert.match(emitted, /from 'memweave\/plugins'/, 'the compiled plugin still imports the package')
  })

  it('the example script lists the processes and finds the pattern on the heap', async () => {
    assert.ok(fixture !== undefined)
    const pattern = heapPattern()
    const { stdout } = await run('node', [join('out', 'heap-grep.js'), fixture.dump, String(pattern.pid), patternText(pattern)], { cwd: app, maxBuffer: 16 << 20 })
    for (const p of fixture.truth.processes) assert.match(stdout, new RegExp(`^ *${p.pid}  `, 'm'), `pid ${p.pid} is listed`)
    assert.ok(stdout.split('\n').includes(`${pattern.pid} heap ${pattern.address}`), `the heap copy at ${pattern.address} is found:\n${stdout.slice(-400)}`)
  })

  it("the example plugin, importing 'memweave/plugins', loads into the sandbox and greps the heap", async () => {
    assert.ok(fixture !== undefined)
    const pattern = heapPattern()
    const { stdout } = await run('node', ['load-plugin.mjs', fixture.dump, join(app, 'out', 'plugin.js'), String(pattern.pid), patternText(pattern)], { cwd: app })
    const answer = JSON.parse(stdout) as { heap: string; found: string[] }
    assert.match(answer.heap, new RegExp(`\\(pid ${pattern.pid}\\): heap 0x[0-9a-f]+-0x[0-9a-f]+\n$`))
    assert.ok(answer.found.includes(pattern.address), `heap-grep found ${answer.found.join(', ')}`)
  })
})
