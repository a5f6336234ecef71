import assert from 'node:assert/strict'
import { resolve } from 'node:path'
import { test } from 'node:test'
import { MemweaveError } from '../errors/index.js'
import { formatEndpoint, isLoopbackHost, parseEndpoint } from './listen-address.js'

test('listen and connect URLs parse and print back', () => {
  const cases: Array<[string, string]> = [
    ['unix:/run/memweave/memweave.sock', 'unix:/run/memweave/memweave.sock'],
    ['unix:///tmp/x.sock', 'unix:/tmp/x.sock'],
    ['/abs/path.sock', 'unix:/abs/path.sock'],
    ['ws://127.0.0.1:0', 'ws://127.0.0.1:0'],
    ['ws://[::1]:80', 'ws://[::1]:80'],
    ['wss://example.org:443/', 'wss://example.org:443'],
  ]
  for (const [url, printed] of cases) assert.equal(formatEndpoint(parseEndpoint(url)), printed)
  assert.deepEqual(parseEndpoint('unix:rel.sock'), { kind: 'unix', path: resolve('rel.sock') })
  assert.deepEqual(parseEndpoint('ws://[::1]:80'), { kind: 'tcp', host: '::1', port: 80, tls: false })
})

test('bad URLs are refused with the reason, never echoing credentials', () => {
  const refuse = (url: string, pattern: RegExp): void => {
    assert.throws(() => parseEndpoint(url), (err: unknown) => err instanceof MemweaveError && err.kind === 'invalid_argument' && pattern.test(err.message))
  }
  refuse('ws://host', /explicit port/)
  refuse('ws://host:1/path', /no path/)
  refuse('http://host:1', /unsupported scheme 'http:'/)
  refuse('unix:', /names no socket path/)
  refuse('not a url', /is not a URL/)
  assert.throws(() => parseEndpoint('ws://user:hunter2@host:1'), (err: unknown) => err instanceof MemweaveError && !err.message.includes('hunter2'))
})

test('loopback means this machine only', () => {
  for (const host of ['localhost', '127.0.0.1', '127.3.4.5', '::1', '::ffff:127.0.0.1']) assert.ok(isLoopbackHost(host), host)
  for (const host of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', 'example.org', '']) assert.ok(!isLoopbackHost(host), host)
})
