import assert from 'node:assert/strict'
import { test } from 'node:test'
import { hostRefusal, originRefusal, ownHosts } from './browser-origin.js'

const loopback = { host: '127.0.0.1', port: 8123, tls: false }

test('a loopback listener answers to its address and localhost only', () => {
  assert.deepEqual(ownHosts(loopback), ['127.0.0.1:8123', 'localhost:8123'])
  assert.equal(hostRefusal('127.0.0.1:8123', loopback), undefined)
  assert.equal(hostRefusal('LOCALHOST:8123', loopback), undefined)
  assert.match(hostRefusal('evil.example:8123', loopback) ?? '', /not this daemon/)
  assert.match(hostRefusal('127.0.0.1:9999', loopback) ?? '', /not this daemon/)
  assert.match(hostRefusal(undefined, loopback) ?? '', /no Host/)
})

test('browsers connect only from the page\'s own origin (or a configured one); other clients send none', () => {
  assert.equal(originRefusal(undefined, '127.0.0.1:8123', loopback), undefined)
  assert.equal(originRefusal('http://127.0.0.1:8123', '127.0.0.1:8123', loopback), undefined)
  assert.equal(originRefusal('http://localhost:8123', 'localhost:8123', loopback), undefined)
  assert.match(originRefusal('http://127.0.0.1:9000', '127.0.0.1:8123', loopback) ?? '', /not allowed/)
  assert.match(originRefusal('https://127.0.0.1:8123', '127.0.0.1:8123', loopback) ?? '', /not allowed/)
  assert.match(originRefusal('null', '127.0.0.1:8123', loopback) ?? '', /not allowed/)
  assert.equal(originRefusal('https://tool.example', '127.0.0.1:8123', { ...loopback, extraOrigins: ['https://tool.example'] }), undefined)
})

test('a wildcard listener takes any Host, and an Origin must match it', () => {
  const wildcard = { host: '0.0.0.0', port: 80, tls: true }
  assert.equal(hostRefusal('box.lan:80', wildcard), undefined)
  assert.equal(originRefusal('https://box.lan:80', 'box.lan:80', wildcard), undefined)
  assert.match(originRefusal('https://other.lan:80', 'box.lan:80', wildcard) ?? '', /not allowed/)
})
