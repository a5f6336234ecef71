/**
 * The Python client (python/) as a user gets it: installed with pip into a
 * fresh virtual environment, offline (Debian's python3-msgpack and
 * python3-websockets seen through --system-site-packages, setuptools
 * without build isolation), then its unittest suite run against a real
 * daemon serving a real guest dump. Each Python test is reported here as
 * its own test, so the runner counts them.
 */
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { REPO_ROOT, startDaemon } from './cli-kit.js'
import type { RunningDaemon } from './cli-kit.js'
import { linuxFixtures, NO_FIXTURES_REASON } from './linux-kit.js'

const run = promisify(execFile)
/** Debian's interpreter, which sees Debian's python3-* packages (a pyenv python3 on PATH would not). */
const PYTHON = '/usr/bin/python3'
const fixture = linuxFixtures().find((f) => f.variant === 'plain') ?? linuxFixtures()[0]

async function pythonMissing(): Promise<string | undefined> {
  try {
    await run(PYTHON, ['-c', 'import msgpack, websockets, venv, pip'])
    return undefined
  } catch (err) {
    return `${PYTHON} lacks msgpack, websockets, venv or pip (scripts/setup.sh installs python3-msgpack python3-websockets python3-venv python3-pip): ${String(err).split('\n')[0] ?? ''}`
  }
}

interface PythonResult { readonly name: string; readonly outcome: string; readonly detail: string }

/** `test_x (tests.test_daemon.DaemonTest.test_x) ... ok` lines and the FAIL/ERROR blocks of unittest -v. */
function parseUnittest(output: string): PythonResult[] {
  const results: PythonResult[] = []
  // A warning printed while a test runs lands between its "..." and its outcome.
  for (const match of output.matchAll(/^(\w+) \(([\w.]+)\) \.\.\. (?:[^\n]*\n)*?[^\n]*?(ok|FAIL|ERROR|skipped [^\n]*|expected failure|unexpected success)$/gm)) {
    const id = match[2] ?? ''
    const name = id.endsWith(`.${match[1] ?? ''}`) ? id : `${id}.${match[1] ?? ''}`
    const block = new RegExp(`^(?:FAIL|ERROR): ${match[1] ?? ''} \\(${id.replace(/\./g, '\\.')}\\)\\n-+\\n([\\s\\S]*?)(?=\\n={10,}|\\n-{10,}\\nRan )`, 'm').exec(output)
    results.push({ name, outcome: match[3] ?? '', detail: block?.[1] ?? '' })
  }
  return results
}

const missing = fixture === undefined ? NO_FIXTURES_REASON : await pythonMissing()

describe('the Python client, pip-installed, against a real daemon', { skip: missing ?? false }, () => {
  let dir = ''
  let daemon: RunningDaemon | undefined
  let venvPython = ''

  before(async () => {
    assert.ok(fixture !== undefined)
    dir = await mkdtemp(join(tmpdir(), 'memweave-python-'))
    // No token configured: the TCP listener gets an auto token in the state directory, as a user's daemon would.
    // --json: one line lists every address (the human form may arrive a line at a time).
    daemon = await startDaemon([
      '--json', '--listen', `unix:${join(dir, 'mw.sock')}`, '--listen', 'ws://127.0.0.1:0',
      '--with', `connector dump file:${fixture.dump}`, '--with', 'os g -c dump linux',
      // The Python tests (and the example) create connectors on the fixture through the protocol.
      '--file-root', dirname(fixture.dump),
    ], { env: { MEMWEAVE_STATE_DIR: join(dir, 'state'), MEMWEAVE_TOKEN: undefined } })
    // A copy, so pip's in-tree build leaves nothing in the repository.
    await cp(join(REPO_ROOT, 'python'), join(dir, 'python-src'), { recursive: true })
    await run(PYTHON, ['-m', 'venv', '--system-site-packages', '--without-pip', join(dir, 'venv')])
    venvPython = join(dir, 'venv', 'bin', 'python')
    await run(venvPython, ['-m', 'pip', 'install', '--no-index', '--no-build-isolation', '--no-cache-dir', '--quiet', join(dir, 'python-src')], { cwd: dir })
    // The tests run from a directory without the sources, so they import the installed package.
    await mkdir(join(dir, 'run'))
    await cp(join(REPO_ROOT, 'python', 'tests'), join(dir, 'run', 'tests'), { recursive: true })
  })

  after(async () => {
    await daemon?.stop()
    if (dir !== '') await rm(dir, { recursive: true, force: true })
  })

  it('pip installed the package: import memweave works outside the source tree', async () => {
    const { stdout } = await run(venvPython, ['-c', 'import memweave, os; print(memweave.__version__, os.path.dirname(memweave.__file__))'], { cwd: join(dir, 'run') })
    assert.match(stdout, /^0\.1\.0 .*venv\/lib\/python3[^/]*\/site-packages\/memweave\n$/)
  })

  it('every Python test passes', async (t) => {
    assert.ok(fixture !== undefined && daemon !== undefined)
    const unix = daemon.addresses.find((a) => a.startsWith('unix:'))
    const tcp = daemon.addresses.find((a) => a.startsWith('ws://'))
    const env = {
      ...process.env, MEMWEAVE_TEST_UNIX: unix, MEMWEAVE_TEST_TCP: tcp, MEMWEAVE_STATE_DIR: join(dir, 'state'), MEMWEAVE_TEST_DUMP: fixture.dump,
      MEMWEAVE_TEST_TRUTH: join(fixture.dump, '..', 'truth.json'), MEMWEAVE_TEST_OS: 'g', MEMWEAVE_DAEMON: '', MEMWEAVE_TOKEN: '', PYTHONDONTWRITEBYTECODE: '1',
    }
    const child = spawn(venvPython, ['-m', 'unittest', 'discover', '-s', 'tests', '-v'], { cwd: join(dir, 'run'), env, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
    child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
    const results = parseUnittest(output)
    const ran = Number(/^Ran (\d+) tests? in /m.exec(output)?.[1] ?? -1)
    assert.ok(results.length >= 10, `unittest ran the suite:\n${output}`)
    assert.equal(results.length, ran, `every test unittest ran is reported here:\n${output}`)
    for (const result of results) {
      const skip = result.outcome.startsWith('skipped') ? result.outcome.slice('skipped '.length) : false
      await t.test(`python: ${result.name}`, { skip }, () => {
        if (result.outcome !== 'ok' && skip === false) assert.fail(`${result.outcome}\n${result.detail}`)
      })
    }
    assert.equal(code, 0, `python -m unittest failed:\n${output.slice(-4000)}`)
    assert.match(output, /\nOK( \(skipped=\d+\))?\n/)
  })
  it('the example script lists the processes of the dump and finds the pattern on the heap', async () => {
    assert.ok(fixture !== undefined && daemon !== undefined)
    const pattern = fixture.truth.patterns.find((p) => p.kind === 'heap')
    assert.ok(pattern !== undefined)
    const text = Buffer.from(pattern.bytes.slice(0, 64), 'hex').toString('latin1')
    const unix = daemon.addresses.find((a) => a.startsWith('unix:')) ?? ''
    const { stdout } = await run(venvPython, [join(REPO_ROOT, 'examples', 'python', 'heap_grep.py'), fixture.dump, String(pattern.pid), text, '--daemon', unix], { cwd: join(dir, 'run'), env: { ...process.env, MEMWEAVE_TOKEN: '' } })
    for (const p of fixture.truth.processes) assert.match(stdout, new RegExp(`^ *${p.pid}  `, 'm'), `pid ${p.pid} is listed`)
    assert.ok(stdout.split('\n').includes(`${pattern.pid} heap ${pattern.address}`), `the heap copy at ${pattern.address} is found:\n${stdout.slice(-400)}`)
  })
})
