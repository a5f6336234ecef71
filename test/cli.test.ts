/**
 * The CLI as a user runs it, on an --embedded node (no daemon): listings,
 * --json, stat, cat, read, the control leaves and their refusals, exit
 * codes, and the message when no daemon answers.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { lines, runCli } from './cli-kit.js'

let dir = ''
before(async () => { dir = await mkdtemp(join(tmpdir(), 'memweave-cli-')) })
after(async () => { await rm(dir, { recursive: true, force: true }) })

/** An error is one stderr line starting with "memweave: ", with nothing on stdout. */
function assertOneLineError(result: { code: number | null; stdout: string; stderr: string }, code: number, pattern: RegExp): void {
  assert.equal(result.code, code, `exit code (stderr: ${result.stderr})`)
  assert.equal(result.stdout, '')
  const errLines = lines(result.stderr)
  assert.equal(errLines.length, 1, `one line on stderr, got: ${result.stderr}`)
  assert.match(errLines[0] ?? '', /^memweave: /)
  assert.match(errLines[0] ?? '', pattern)
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace')
}

describe('memweave --embedded', { concurrency: 4 }, () => {
  test('ls of the root lists connector/, os/ and sys/', async () => {
    const result = await runCli(['--embedded', 'ls'])
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(lines(result.stdout), ['connector/', 'os/', 'sys/'])
    assert.equal(result.stderr, '')
  })

  test('ls --json parses and describes the entries', async () => {
    const result = await runCli(['--embedded', 'ls', 'connector', '--json'])
    assert.equal(result.code, 0, result.stderr)
    const entries = JSON.parse(result.stdout) as Record<string, unknown>[]
    const byName = new Map(entries.map((e) => [e.name, e]))
    const control = byName.get('new')
    assert.equal(typeof control?.sizeBytes, 'number')
    assert.deepEqual({ ...control, sizeBytes: 0 }, { name: 'new', type: 'leaf', sizeBytes: 0, readable: true, writable: true, rpc: true, content: 'control' })
    assert.ok(byName.has('rm'))
  })

  test('ls -l shows type, size, flags and content', async () => {
    const result = await runCli(['ls', '-l', 'sys', '--embedded'])
    assert.equal(result.code, 0, result.stderr)
    const table = lines(result.stdout)
    assert.match(table[0] ?? '', /^TYPE\s+SIZE\s+FLAGS\s+CONTENT\s+NAME$/)
    assert.ok(table.some((l) => /^leaf\s+\d+\s+r--\s+text\s+info$/.test(l)), result.stdout)
  })

  test('ls of a leaf shows the leaf, like ls(1)', async () => {
    const result = await runCli(['--embedded', 'ls', '-l', 'connector/new'])
    assert.equal(result.code, 0, result.stderr)
    assert.match(lines(result.stdout)[1] ?? '', /^leaf\s+\d+\s+rwx\s+control\s+new$/)
  })

  test('stat prints the leaf, and --json parses', async () => {
    const human = await runCli(['--embedded', 'stat', 'connector/new'])
    assert.equal(human.code, 0, human.stderr)
    assert.match(human.stdout, /^path:\s+connector\/new$/m)
    assert.match(human.stdout, /^type:\s+leaf$/m)
    assert.match(human.stdout, /^flags:\s+rwx \(readable, writable, rpc\)$/m)
    const json = await runCli(['--embedded', 'stat', 'sys', '--json'])
    assert.deepEqual(JSON.parse(json.stdout), { name: 'sys', path: 'sys', type: 'branch' })
  })

  test('cat sys/info gives the node facts as JSON', async () => {
    const result = await runCli(['--embedded', 'cat', 'sys/info'])
    assert.equal(result.code, 0, result.stderr)
    const info = JSON.parse(result.stdout) as Record<string, unknown>
    assert.match(String(info.version), /^\d+\.\d+\.\d+/)
    assert.deepEqual(info.connectors, [])
    assert.equal(info.allowWrite, false)
  })

  test('--allow-write reaches the embedded node', async () => {
    const result = await runCli(['--embedded', '--allow-write', 'sys', 'info', '--json'])
    assert.equal((JSON.parse(result.stdout) as { allowWrite: boolean }).allowWrite, true)
  })

  test('sys prints key: value lines; sys handles a table or that there are none', async () => {
    const info = await runCli(['--embedded', 'sys'])
    assert.equal(info.code, 0, info.stderr)
    assert.match(info.stdout, /^version:\s+\d+\.\d+\.\d+$/m)
    assert.match(info.stdout, /^connectors:\s+\(none\)$/m)
    const handles = await runCli(['--embedded', 'sys', 'handles'])
    assert.equal(handles.code, 0, handles.stderr)
    // sys/handles is generated when opened, before its own handle exists.
    assert.equal(handles.stdout, 'no open handles\n')
  })

  test('read --hex dumps like xxd, from the offset given', async () => {
    const whole = await runCli(['--embedded', 'cat', 'sys/mappings'])
    const bytes = whole.stdoutBytes
    const result = await runCli(['--embedded', 'read', 'sys/mappings', '--offset', '0x2', '--length', '20', '--hex'])
    assert.equal(result.code, 0, result.stderr)
    const dump = lines(result.stdout)
    assert.equal(dump.length, 2)
    const expectedHex = bytes.subarray(2, 18).toString('hex').replace(/(.{4})(?!$)/g, '$1 ')
    assert.equal(dump[0]?.slice(0, 10 + 39), `00000002: ${expectedHex}`)
  })

  test('read without --hex writes raw bytes; --json gives pieces', async () => {
    const raw = await runCli(['--embedded', 'read', 'sys/info', '--length', '1'])
    assert.equal(raw.stdout, '{')
    const json = await runCli(['--embedded', 'read', 'sys/info', '--length', '2', '--json'])
    const parsed = JSON.parse(json.stdout) as { pieces: { offset: number; length: number; data: string }[] }
    assert.deepEqual(parsed.pieces, [{ offset: 0, length: 2, data: '7b0a' }])
  })

  test('rpc on a control leaf runs a line and shows the refusal', async () => {
    const result = await runCli(['--embedded', 'rpc', 'connector/new', '"x nope:/a"'])
    assertOneLineError(result, 1, /unknown connector kind 'nope'/)
    const text = await runCli(['--embedded', 'rpc', '--text', 'os/new', 'g nope'])
    assertOneLineError(text, 1, /unknown os kind 'nope'/)
    const notJson = await runCli(['--embedded', 'rpc', 'connector/new', 'x nope'])
    assertOneLineError(notJson, 2, /is not JSON/)
  })

  test('connector ls and os ls say when there is nothing', async () => {
    const connectors = await runCli(['--embedded', 'connector', 'ls'])
    assert.equal(connectors.code, 0, connectors.stderr)
    assert.match(connectors.stdout, /^no connectors/)
    const oses = await runCli(['--embedded', 'os', 'ls', '--json'])
    assert.deepEqual(JSON.parse(oses.stdout), [])
  })

  test('bin/memweave.js runs the CLI, compiled or (MEMWEAVE_FROM_SOURCE=1) from the sources', async () => {
    for (const env of [{}, { MEMWEAVE_FROM_SOURCE: '1' }]) {
      const result = await runCli(['--embedded', 'ls'], { viaBin: true, env })
      assert.equal(result.code, 0, result.stderr)
      assert.deepEqual(lines(result.stdout), ['connector/', 'os/', 'sys/'])
    }
    const failing = await runCli(['--embedded', 'cat', 'nothing'], { viaBin: true })
    assert.equal(failing.code, 1)
    assert.equal(failing.stderr, "memweave: no such path: 'nothing'\n")
  })

  test('--version prints the version', async () => {
    const result = await runCli(['--version'])
    assert.equal(result.code, 0)
    assert.match(result.stdout, /^\d+\.\d+\.\d+\n$/)
  })
})

describe('refusals are one line and a non-zero exit', { concurrency: 4 }, () => {
  const refusals: [string, string[], RegExp][] = [
    ["a name with '/'", ['connector', 'new', 'a/b', 'file:/x'], /must not contain '\/'/],
    ["a name with '.'", ['connector', 'new', 'a.b', 'file:/x'], /must not contain '\.'/],
    ["the name 'new'", ['connector', 'new', 'new', 'file:/x'], /'new' is reserved/],
    ["the name 'rm'", ['os', 'new', 'rm', 'native'], /'rm' is reserved/],
    ['an unknown connector kind', ['connector', 'new', 'x', 'nope:/data'], /unknown connector kind 'nope'/],
    ['an unknown os kind', ['os', 'new', 'g', 'nope'], /unknown os kind 'nope'/],
    ['bad args (empty)', ['connector', 'new', 'x', 'file:/a,,b=1'], /empty argument/],
    ['bad args (bare word after the target)', ['connector', 'new', 'x', 'file:/a,b'], /must be key=value/],
    ['bad args (key twice)', ['connector', 'new', 'x', 'file:/a,k=1,k=2'], /given twice/],
    ['a bad kind name', ['connector', 'new', 'x', 'Bad!:/a'], /not a valid kind name/],
    ['an os on a missing connector', ['os', 'new', 'g', '-c', 'nothing', 'linux'], /no connector named 'nothing'|unknown os kind 'linux'/],
    ['removing what does not exist', ['connector', 'rm', 'ghost'], /no connector named 'ghost'/],
    ['removing an OS that does not exist', ['os', 'rm', 'ghost', '-f'], /no OS named 'ghost'/],
    ['a leaf that is not writable', ['write', 'sys/info', '--string', 'x'], /not writable/],
    ['a path that does not exist', ['cat', 'nothing/here'], /no such path: 'nothing'/],
    ['a branch given to cat', ['cat', 'sys'], /is a branch/],
  ]
  for (const [what, args, pattern] of refusals) {
    test(what, async () => {
      assertOneLineError(await runCli(['--embedded', ...args]), 1, pattern)
    })
  }

  test('--with names the failing line', async () => {
    assertOneLineError(await runCli(['--embedded', '--with', 'connector x nope:/a', 'ls']), 1, /^memweave: --with 'connector x nope:\/a': unknown connector kind 'nope'/)
    assertOneLineError(await runCli(['--embedded', '--with', 'disk x file:/a', 'ls']), 2, /must start with 'connector' or 'os'/)
  })

  test('--with without --embedded is a usage error', async () => {
    assertOneLineError(await runCli(['--with', 'connector x file:/a', 'ls']), 2, /add --embedded/)
  })

  test('usage errors exit 2', async () => {
    assertOneLineError(await runCli(['read', 'sys/info']), 2, /required option '--length <n>'/)
    assertOneLineError(await runCli(['frobnicate']), 2, /unknown command 'frobnicate'/)
    assertOneLineError(await runCli(['--embedded', 'read', 'sys/info', '--length', '1g']), 2, /more than the 64 MiB/)
    assertOneLineError(await runCli(['--embedded', 'read', 'sys/info', '--length', '12q']), 2, /length '12q' is not a number/)
    assertOneLineError(await runCli(['--embedded', 'write', 'sys/info', '--hex', 'abc']), 2, /odd number of digits/)
    assertOneLineError(await runCli(['--embedded', 'write', 'sys/info']), 2, /exactly one of --hex/)
    assertOneLineError(await runCli(['--embedded', 'ps', 'g', '--log-level', 'loud']), 2, /--log-level/)
    assertOneLineError(await runCli(['--daemon', 'http://x:1', 'ls']), 2, /is not unix:\/PATH/)
  })

  test('a bad config names the file and the key', async () => {
    const file = join(dir, 'bad.toml')
    await writeFile(file, '[[connector]]\nname = "x"\nkind = "file"\nchainon = "g"\n')
    assertOneLineError(await runCli(['--embedded', '--config', file, 'ls']), 1, new RegExp(`${file.replaceAll('/', '\\/')}: connector\\[0\\]\\.chainon: unknown key`))
    const syntax = join(dir, 'syntax.toml')
    await writeFile(syntax, 'listen = [\n')
    assertOneLineError(await runCli(['--embedded', '--config', syntax, 'ls']), 1, /syntax\.toml:\d+:\d+: /)
  })

  test('--debug adds the stack', async () => {
    const result = await runCli(['--embedded', '--debug', 'cat', 'nothing'])
    assert.equal(result.code, 1)
    assert.match(result.stderr, /^memweave: no such path: 'nothing'\n/)
    assert.match(result.stderr, /\n\s+at /)
  })
})

describe('no daemon', { concurrency: 3 }, () => {
  test('--daemon to a socket nobody serves: exit 3 and how to get a daemon', async () => {
    const socket = join(dir, 'nobody.sock')
    const result = await runCli(['--daemon', `unix:${socket}`, 'ls'])
    assertOneLineError(result, 3, new RegExp(`no daemon answers at unix:${socket.replaceAll('/', '\\/')}`))
    assert.match(result.stderr, /memweave serve/)
    assert.match(result.stderr, /--embedded/)
  })

  test('MEMWEAVE_DAEMON is used when --daemon is not given', async () => {
    const socket = join(dir, 'env.sock')
    assertOneLineError(await runCli(['sys'], { env: { MEMWEAVE_DAEMON: `unix:${socket}` } }), 3, /env\.sock/)
  })

  test('the default socket (MEMWEAVE_SOCKET) is used when nothing is given', async () => {
    const socket = join(dir, 'default.sock')
    assertOneLineError(await runCli(['connector', 'ls'], { env: { MEMWEAVE_SOCKET: socket } }), 3, /default\.sock.*memweave serve/)
  })

  test('a TCP port nobody listens on', async () => {
    assertOneLineError(await runCli(['--daemon', 'ws://127.0.0.1:1', 'ls']), 3, /no daemon answers at ws:\/\/127\.0\.0\.1:1/)
  })
})
