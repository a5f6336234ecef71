/** Peer descriptions: --connect, control lines and RPC objects; tokens never on a line. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseConnectOption, parsePeerLine, peerSpecFromRpc } from './peer-spec.js'

const FP = 'ab'.repeat(32)
const FP_NORMAL = Array.from({ length: 32 }, () => 'AB').join(':')

test('--connect NAME=URL with options', () => {
  const spec = parseConnectOption(`b=wss://127.0.0.1:7001,token-file=/etc/t,fingerprint=${FP},backoff-max-ms=500`)
  assert.equal(spec.name, 'b')
  assert.equal(spec.url, 'wss://127.0.0.1:7001')
  assert.equal(spec.tokenFile, '/etc/t')
  assert.equal(spec.fingerprint, FP_NORMAL)
  assert.deepEqual(spec.tuning, { backoffMaxMs: 500 })
  assert.equal(parseConnectOption('c=/run/c.sock').url, 'unix:/run/c.sock')
})

test('a control line; fingerprints in any common spelling', () => {
  const spec = parsePeerLine(`b ws://localhost:9 fingerprint=sha256:${FP_NORMAL.toLowerCase()} ca=/ca.pem`)
  assert.equal(spec.fingerprint, FP_NORMAL)
  assert.equal(spec.caFile, '/ca.pem')
})

test('refusals name the problem', () => {
  assert.throws(() => parseConnectOption('b'), /NAME=URL/)
  assert.throws(() => parseConnectOption('b=http://x:1'), /unsupported scheme/)
  assert.throws(() => parsePeerLine('b ws://h:1 token=s3cret'), (err: unknown) => err instanceof Error && /token-file/.test(err.message) && !err.message.includes('s3cret'))
  assert.throws(() => parsePeerLine('b ws://h:1 colour=red'), /unknown option 'colour'/)
  assert.throws(() => parsePeerLine('b ws://h:1 fingerprint=abc'), /not a SHA-256 fingerprint/)
  assert.throws(() => parsePeerLine('b ws://h:1 ping-ms=-3'), /positive number/)
})

test('the RPC object may carry the token itself', () => {
  const spec = peerSpecFromRpc({ name: 'b', url: 'ws://127.0.0.1:5', token: 'tok', fingerprint: FP })
  assert.equal(spec.token, 'tok')
  assert.equal(spec.fingerprint, FP_NORMAL)
  assert.equal(peerSpecFromRpc('c unix:/x.sock').url, 'unix:/x.sock')
  assert.throws(() => peerSpecFromRpc({ url: 'ws://h:1' }), /needs a name and a url/)
})
