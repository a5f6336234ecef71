/**
 * `npm run demo` end to end (its setup and build steps skipped: npm test
 * has done both): on the fixture guest dump it runs the CLI examples and
 * ends by printing the web page's one-time link, after the examples.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { REPO_ROOT } from './cli-kit.js'
import { linuxFixtures, NO_FIXTURES_REASON } from './linux-kit.js'

const built = existsSync(join(REPO_ROOT, 'dist', 'web', 'app.js')) && existsSync(join(REPO_ROOT, 'dist', 'src', 'frontends', 'cli', 'main.js'))
const skip = linuxFixtures().length === 0 ? NO_FIXTURES_REASON : !built ? 'not built (npm run build)' : false

test('npm run demo ends by printing the web URL with its one-time ticket, after the CLI examples', { skip }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'memweave-demo-test-'))
  try {
    const child = spawn('bash', ['scripts/demo.sh'], {
      cwd: REPO_ROOT,
      env: { ...process.env, MEMWEAVE_DEMO_PREPARED: '1', MEMWEAVE_DEMO_EXIT: '1', TMPDIR: dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString('utf8') })
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8') })
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
    assert.equal(code, 0, stderr)
    const last = stdout.trim().split('\n').at(-1) ?? ''
    assert.match(last, /^http:\/\/127\.0\.0\.1:\d+\/#ticket=[0-9a-f]{64}$/, 'the last line is the web link')
    assert.match(stderr, /Try these[\s\S]*memweave\.js web[\s\S]*the web page \(one-time link\)/, 'the link comes after the CLI examples')
    const ticket = last.split('#ticket=')[1] ?? ''
    assert.ok(!(await readFile(join(dir, 'memweave-demo', 'daemon.log'), 'utf8')).includes(ticket), 'the ticket is in no log')
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
