import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { MemweaveError } from '../../errors/index.js'
import { loadConfig, parseConfig } from './config.js'

const FULL = `
listen = ["unix:/run/memweave/memweave.sock", "ws://127.0.0.1:7767"]
allow_write = true
token_file = "token"
log_level = "debug"

[tls]
cert_file = "/etc/memweave/cert.pem"
key_file = "key.pem"

[[connector]]
name = "dump"
kind = "file"
args = "/data/vm.elf,strict=true"

[[connector]]
name = "inner"
kind = "file"
args = { target = "/data/a,b.raw", strict = false }
chain_on = "guest"

[[os]]
name = "guest"
kind = "linux"
connector = "dump"
`

test('a full config parses, with relative files resolved against its folder', () => {
  const config = parseConfig(FULL, '/etc/memweave/config.toml')
  assert.deepEqual(config.listen, ['unix:/run/memweave/memweave.sock', 'ws://127.0.0.1:7767'])
  assert.equal(config.allowWrite, true)
  assert.equal(config.tokenFile, '/etc/memweave/token')
  assert.equal(config.logLevel, 'debug')
  assert.deepEqual(config.tls, { certFile: '/etc/memweave/cert.pem', keyFile: '/etc/memweave/key.pem' })
  assert.deepEqual(config.objects.map((o) => [o.what, o.name, o.on, o.kind, o.args]), [
    ['connector', 'dump', undefined, 'file', '/data/vm.elf,strict=true'],
    ['connector', 'inner', 'guest', 'file', '/data/a\\,b.raw,strict=false'],
    ['os', 'guest', 'dump', 'linux', ''],
  ])
  assert.match(config.objects[2]?.source ?? '', /config\.toml: os\[0\] 'guest'/)
})

test('an empty config is valid and sets nothing', () => {
  const config = parseConfig('', 'empty.toml')
  assert.equal(config.listen, undefined)
  assert.equal(config.allowWrite, undefined)
  assert.deepEqual(config.objects, [])
})

test('config errors name the file and the key', () => {
  const cases: [string, RegExp][] = [
    ['listen = "unix:/x"', /^c\.toml: listen: must be an array of strings$/],
    ['allow_write = "yes"', /^c\.toml: allow_write: must be true or false$/],
    ['allow-write = true', /^c\.toml: allow-write: unknown key \(known: listen, allow_write/],
    ['[[connector]]\nname = "a"', /^c\.toml: connector\[0\]\.kind: must be a non-empty string$/],
    ['[[connector]]\nname = "a"\nkind = "file"\nchainon = "x"', /^c\.toml: connector\[0\]\.chainon: unknown key/],
    ['[[os]]\nname = "g"\nkind = "linux"\nargs = { x = [1] }', /^c\.toml: os\[0\]\.args\.x: must be a string, number or boolean$/],
    ['[tls]\ncert_file = "c"', /^c\.toml: tls\.key_file: must be a non-empty string$/],
    ['connector = 1', /^c\.toml: connector: must be an array of tables/],
  ]
  for (const [text, expected] of cases) {
    assert.throws(() => parseConfig(text, 'c.toml'), (err: unknown) => err instanceof MemweaveError && err.origin === 'config' && expected.test(err.message), text)
  }
})

test('TOML syntax errors give file:line:column on one line', () => {
  assert.throws(() => parseConfig('a = [\n', 'bad.toml'), (err: unknown) =>
    err instanceof MemweaveError && err.kind === 'malformed' && /^bad\.toml:\d+:\d+: /.test(err.message) && !err.message.includes('\n'))
})

test('loadConfig reads a file and reports a missing one as not found', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'memweave-config-'))
  try {
    await writeFile(join(dir, 'c.toml'), 'allow_write = false\n')
    assert.equal((await loadConfig(join(dir, 'c.toml'))).allowWrite, false)
    await assert.rejects(loadConfig(join(dir, 'missing.toml')), (err: unknown) =>
      err instanceof MemweaveError && err.kind === 'not_found' && err.message.includes('missing.toml'))
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('docs/config.example.toml parses, and so do its commented-out examples', async () => {
  const text = await readFile(new URL('../../../docs/config.example.toml', import.meta.url), 'utf8')
  const plain = parseConfig(text, 'config.example.toml')
  assert.deepEqual(plain.listen, ['unix:/run/memweave/memweave.sock'])
  assert.deepEqual(plain.objects, [])
  // Uncomment "# key = value" and "# [[table]]" lines (the second listen example would repeat the key).
  const uncommented = text.split('\n').map((line) => /^# (\[\[?\w+\]\]?|(?!listen)\w+ = .*)$/.exec(line)?.[1] ?? line).join('\n')
  const full = parseConfig(uncommented, 'config.example.toml')
  assert.deepEqual(full.objects.map((o) => `${o.what}:${o.name}:${o.on ?? ''}:${o.kind}:${o.args}`), [
    'connector:dump::file:/srv/dumps/web1.elf',
    'connector:web1::qemu:name=web1',
    'connector:nested:guest:file:/guest/path.raw',
    'os:guest:dump:linux:kaslr=auto',
    'os:host::native:',
  ])
  assert.equal(full.tokenFile, '/etc/memweave/token')
  assert.deepEqual(full.pluginRoots, ['/srv/memweave/plugins'])
  assert.equal(full.socketGroup, 'memweave')
  assert.equal(plain.socketGroup, undefined)
  assert.deepEqual(parseConfig('socket_group = 65534\nplugin_roots = ["p"]', '/etc/mw/c.toml'), { ...parseConfig('', '/etc/mw/c.toml'), socketGroup: '65534', pluginRoots: ['/etc/mw/p'] })
  assert.throws(() => parseConfig('socket_group = -1', 'c.toml'), /c\.toml: socket_group: must be a group name or a gid/)
  assert.ok(full.tls !== undefined)
  assert.deepEqual(full.peers, ['b=wss://b.example:7001,token-file=/etc/memweave/b.token,fingerprint=38:14:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66'])
})

test('peers become --connect options, with files resolved against the config folder; bad keys are named', () => {
  const config = parseConfig('[[peer]]\nname = "c"\nurl = "unix:/run/c.sock"\n[[peer]]\nname = "d"\nurl = "wss://d:1"\nca_file = "ca.pem"\n', '/etc/mw/c.toml')
  assert.deepEqual(config.peers, ['c=unix:/run/c.sock', 'd=wss://d:1,ca=/etc/mw/ca.pem'])
  assert.throws(() => parseConfig('[[peer]]\nname = "c"', 'c.toml'), /^MemweaveError: c\.toml: peer\[0\]\.url: must be a non-empty string$/)
  assert.throws(() => parseConfig('[[peer]]\nname = "c"\nurl = "x"\ntoken = "s"', 'c.toml'), /c\.toml: peer\[0\]\.token: unknown key/)
})
