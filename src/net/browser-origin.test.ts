import assert from 'node:assert/strict'
import { test } from 'node:test'
import { hostRefusal, originRefusal, ownHosts, parseAllowedOrigin } from './browser-origin.js'

const loopback = { host: '127.0.0.1', port: 8123, tls: false }

test('a loopback listener answers to the loopback names at its port only', () => {
  assert.deepEqual(ownHosts(loopback), ['127.0.0.1:8123', 'localhost:8123', '[::1]:8123'])
  assert.equal(hostRefusal('127.0.0.1:8123', loopback), undefined)
  assert.equal(hostRefusal('LOCALHOST:8123', loopback), undefined)
  assert.equal(hostRefusal('[::1]:8123', loopback), undefined)
  assert.match(hostRefusal('evil.example:8123', loopback) ?? '', /not this daemon/)
  assert.match(hostRefusal('127.0.0.1:9999', loopback) ?? '', /not this daemon/)
  assert.match(hostRefusal('127.0.0.1', loopback) ?? '', /not this daemon/)
  assert.match(hostRefusal(undefined, loopback) ?? '', /no Host/)
})

test('browsers connect only from the daemon\'s own origins (or a configured one); other clients send none', () => {
  assert.equal(originRefusal(undefined, '127.0.0.1:8123', loopback), undefined)
  assert.equal(originRefusal('http://127.0.0.1:8123', '127.0.0.1:8123', loopback), undefined)
  assert.equal(originRefusal('http://localhost:8123', 'localhost:8123', loopback), undefined)
  assert.equal(originRefusal('http://[::1]:8123', '127.0.0.1:8123', loopback), undefined)
  assert.match(originRefusal('http://127.0.0.1:9000', '127.0.0.1:8123', loopback) ?? '', /not allowed/)
  assert.match(originRefusal('https://127.0.0.1:8123', '127.0.0.1:8123', loopback) ?? '', /not allowed/)
  assert.match(originRefusal('null', '127.0.0.1:8123', loopback) ?? '', /not allowed/)
  const configured = { ...loopback, extraOrigins: ['https://tool.example'] }
  assert.equal(originRefusal('https://tool.example', '127.0.0.1:8123', configured), undefined)
  // A configured origin's host is a Host the daemon answers to (a reverse proxy in front).
  assert.equal(hostRefusal('tool.example:443', configured), undefined)
})

test('Origin is never compared with Host: a rebound name in both is still refused', () => {
  assert.match(originRefusal('http://evil.example:8123', 'evil.example:8123', loopback) ?? '', /not allowed/)
  const wildcard = { host: '0.0.0.0', port: 443, tls: true }
  assert.match(hostRefusal('box.evil:443', wildcard) ?? '', /not this daemon/)
  assert.match(originRefusal('https://box.evil', 'box.evil', wildcard) ?? '', /not allowed/)
  // A wildcard listener owns the loopback names (and the machine's addresses); the default port is left out of the origin.
  assert.equal(hostRefusal('localhost', wildcard), undefined)
  assert.equal(originRefusal('https://localhost', 'localhost', wildcard), undefined)
})

test('a configured origin must be a bare http(s) origin', () => {
  assert.deepEqual(parseAllowedOrigin('https://Tool.Example/'), { origin: 'https://tool.example', hostPort: 'tool.example:443' })
  assert.throws(() => parseAllowedOrigin('https://tool.example/path'), /nothing more/)
  assert.throws(() => parseAllowedOrigin('ftp://x'), /nothing more/)
  assert.throws(() => parseAllowedOrigin('not a url'), /not a URL/)
})
