/**
 * What a CLI command loads (its startup: every command is a fresh process).
 * A loader hook records each module a real `bin/memweave.js` run loads:
 * `--version` loads no client, a client command against a daemon loads
 * neither the node, the server, connectors, OSs, plugins, FUSE, the web
 * frontend nor pino. The bundled CLI (scripts/build-cli.ts, built here into
 * a scratch copy of the package layout, never into the dist/ other tests
 * run) answers exactly as dist/src does, and bin/memweave.js sends --embedded
 * and serve to dist/src, which the bundle leaves out.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { REPO_ROOT, cleanEnv, startDaemon } from './cli-kit.js'
import type { RunningDaemon } from './cli-kit.js'

const run = promisify(execFile)

const HOOKS = `import { appendFileSync } from 'node:fs'
export async function load(url, context, next) {
  appendFileSync(process.env.MEMWEAVE_TEST_LOADED, url + '\\n')
  return next(url, context)
}
`
const REGISTER = "import { register } from 'node:module'\nregister(new URL('./hooks.mjs', import.meta.url))\n"

/** Modules a client command must not load: the daemon's side of the code, and pino. */
const DAEMON_SIDE = /\/dist\/src\/(node|os|connectors|plugins|arch)\/|\/dist\/src\/frontends\/(fuse|web|gdb)\/|\/dist\/src\/net\/server|\/node_modules\/pino\//

interface Traced {
  readonly code: number
  readonly stdout: Buffer
  readonly stderr: string
  readonly loaded: string[]
}

describe('CLI startup', () => {
  let dir = ''
  let copy = ''
  let daemon: RunningDaemon | undefined
  let socket = ''
  let data: Buffer = Buffer.alloc(0)
  let traces = 0

  /** Runs `node BIN ARGS` (the repo's bin, or the scratch copy's) and lists the modules it loaded. */
  async function traced(bin: string, args: readonly string[], env: Record<string, string> = {}): Promise<Traced> {
    const log = join(dir, `loaded-${traces++}.txt`)
    await writeFile(log, '')
    const result = await run(process.execPath, ['--import', join(dir, 'register.mjs'), bin, ...args], {
      cwd: REPO_ROOT, encoding: 'buffer', maxBuffer: 64 << 20, env: cleanEnv({ ...env, MEMWEAVE_TEST_LOADED: log }),
    }).then((r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr.toString('utf8') }),
      (err: { code?: unknown; stdout?: Buffer; stderr?: Buffer }) => ({ code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? Buffer.alloc(0), stderr: err.stderr?.toString('utf8') ?? '' }))
    const loaded = (await readFile(log, 'utf8')).split('\n').filter((line) => line !== '')
    return { ...result, loaded }
  }

  const repoBin = (): string => join(REPO_ROOT, 'bin', 'memweave.js')
  const copyBin = (): string => join(copy, 'bin', 'memweave.js')

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mw-startup-'))
    await writeFile(join(dir, 'hooks.mjs'), HOOKS)
    await writeFile(join(dir, 'register.mjs'), REGISTER)
    data = Buffer.alloc(3 * 1024 * 1024 + 123)
    for (let i = 0; i < data.length; i += 4096) data.writeUInt32LE(i, i)
    await writeFile(join(dir, 'data.bin'), data)
    socket = join(dir, 'd.sock')
    daemon = await startDaemon(['--listen', `unix:${socket}`, '--file-root', dir, '--with', `connector f file:${join(dir, 'data.bin')}`], { viaBin: true })
    // The package layout with the bundle in it: bin/ and dist/cli/ of its own, the rest shared with the repo.
    copy = join(dir, 'package')
    await mkdir(join(copy, 'bin'), { recursive: true })
    await mkdir(join(copy, 'dist'), { recursive: true })
    await copyFile(repoBin(), copyBin())
    await symlink(join(REPO_ROOT, 'dist', 'src'), join(copy, 'dist', 'src'))
    await symlink(join(REPO_ROOT, 'node_modules'), join(copy, 'node_modules'))
    await symlink(join(REPO_ROOT, 'build'), join(copy, 'build'))
    await run(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'scripts', 'build-cli.ts'), join(copy, 'dist', 'cli')], { cwd: REPO_ROOT })
  })

  after(async () => {
    await daemon?.stop()
    if (dir !== '') await rm(dir, { recursive: true, force: true })
  })

  it('--version loads no client: no net, no ws, no msgpack', async () => {
    const result = await traced(repoBin(), ['--version'], { MEMWEAVE_BUNDLE: '0' })
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout.toString(), /^\d+\.\d+\.\d+\n$/)
    assert.deepEqual(result.loaded.filter((url) => /\/dist\/src\/net\/|\/node_modules\/(ws|msgpackr)\//.test(url)), [])
  })

  it('client commands against a daemon load none of the daemon side, nor pino', async () => {
    for (const args of [['stat', 'connector/f/mem'], ['cat', 'connector/f/info'], ['ls', '-l', 'connector/f'], ['--json', 'sys']]) {
      const result = await traced(repoBin(), ['--daemon', `unix:${socket}`, ...args], { MEMWEAVE_BUNDLE: '0' })
      assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`)
      assert.ok(result.loaded.some((url) => url.endsWith('/dist/src/net/client.js')), `${args.join(' ')} ran dist/src`)
      assert.deepEqual(result.loaded.filter((url) => DAEMON_SIDE.test(url)), [], args.join(' '))
    }
  })

  it('the bundled CLI answers exactly as dist/src, exit codes and errors included', async () => {
    const daemonArgs = ['--daemon', `unix:${socket}`]
    const cases = [
      ['--version'], [...daemonArgs, 'ls', '-l'], [...daemonArgs, '--json', 'stat', 'connector/f/mem'], [...daemonArgs, 'cat', 'connector/f/mem'],
      [...daemonArgs, 'read', 'connector/f/mem', '--offset', '0x1000', '--length', '64', '--hex'], [...daemonArgs, '--json', 'connector', 'ls'],
      [...daemonArgs, 'stat', 'connector/nothing'], [...daemonArgs, 'read', 'connector/f/mem'], ['--daemon', `unix:${join(dir, 'none.sock')}`, 'ls'],
    ]
    for (const args of cases) {
      const bundled = await traced(copyBin(), args)
      const plain = await traced(repoBin(), args, { MEMWEAVE_BUNDLE: '0' })
      assert.ok(bundled.loaded.some((url) => url.endsWith('/dist/cli/memweave.js')), `${args.join(' ')} ran the bundle`)
      assert.deepEqual(bundled.loaded.filter((url) => url.includes('/dist/src/')), [], `${args.join(' ')} loaded nothing from dist/src`)
      assert.equal(bundled.code, plain.code, args.join(' '))
      assert.equal(bundled.stderr, plain.stderr, args.join(' '))
      assert.ok(bundled.stdout.equals(plain.stdout), `${args.join(' ')}: the same output`)
    }
    const cat = await traced(copyBin(), [...daemonArgs, 'cat', 'connector/f/mem'])
    assert.ok(cat.stdout.equals(data), 'cat through the bundle gives the file')
    const codes = await Promise.all([['stat', 'connector/nothing'], ['read', 'connector/f/mem'], ['ls']].map(async (args, i) =>
      (await traced(copyBin(), [...(i === 2 ? ['--daemon', `unix:${join(dir, 'none.sock')}`] : daemonArgs), ...args])).code))
    assert.deepEqual(codes, [1, 2, 3], 'failed, usage, no daemon')
  })

  it('--embedded runs from dist/src, whose node the bundle leaves out', async () => {
    const result = await traced(copyBin(), ['--embedded', '--with', `connector f file:${join(dir, 'data.bin')}`, 'cat', 'connector/f/mem'])
    assert.equal(result.code, 0, result.stderr)
    assert.ok(result.stdout.equals(data))
    assert.ok(result.loaded.some((url) => url.includes('/dist/src/node/')), 'the node came from dist/src')
    assert.deepEqual(result.loaded.filter((url) => url.includes('/dist/cli/')), [])
  })
})
