import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MemweaveError } from '../../errors/index.js'
import { fakeContext } from '../plugin-test-kit.js'
import { scanMemory } from './scan.js'
import { parseScanRequest } from './scan-request.js'

function refused(pattern: RegExp) {
  return (err: unknown): boolean => err instanceof MemweaveError && err.kind === 'invalid_argument' && pattern.test(err.message)
}

const base = 0x10000n
const bytes = Buffer.alloc(2 * 1024 * 1024 + 4096)
const at = [0x20, 0x100000 - 3, 0x180000, 0x200010]
for (const offset of at) bytes.write('NEEDLE', offset, 'latin1')
bytes.write('NEEDLE', 0x1ff000 + 100, 'latin1') // in the hole page below

test('finds every occurrence, across chunk seams, skipping unreadable pages, with context and progress', async () => {
  const fractions: number[] = []
  const ctx = fakeContext(bytes, { base, holes: new Set([(base + 0x1ff000n) / 4096n]), onProgress: (f) => fractions.push(f) })
  const result = await scanMemory(ctx, { pattern: 'NEEDLE', type: 'text', context: 2 })
  assert.deepEqual(result.matches.map((m) => m.address), at.map((a) => base + BigInt(a)))
  assert.equal(result.matches[0]?.context, Buffer.from('\0\0NEEDLE\0\0').toString('hex'))
  assert.equal(result.matches[0]?.contextAddress, base + 0x1en)
  assert.equal(result.unreadableBytes, 4096n)
  assert.equal(result.scannedBytes, BigInt(bytes.length - 4096))
  assert.equal(result.truncated, false)
  assert.equal(fractions.at(-1), 1)
  assert.ok(fractions.every((f, i) => i === 0 || f >= (fractions[i - 1] ?? 0)), 'progress only grows')
})

test('hex with wildcards, regex, ranges and maxResults', async () => {
  const ctx = fakeContext(bytes, { base })
  const wild = await scanMemory(ctx, `4e45??444c45`)
  assert.equal(wild.matches.length, at.length + 1)
  const regex = await scanMemory(ctx, { pattern: 'N[A-Z]{4}E', type: 'regex', range: { start: `0x${(base + 0x100000n).toString(16)}`, end: base + 0x190000n } })
  assert.deepEqual(regex.matches.map((m) => m.address), [base + 0x180000n])
  const one = await scanMemory(ctx, { pattern: '4e4545444c45', maxResults: 2 })
  assert.equal(one.matches.length, 2)
  assert.equal(one.truncated, true)
})

test('requests are checked', () => {
  assert.throws(() => parseScanRequest(5), refused(/hex string or/))
  assert.throws(() => parseScanRequest({ pattern: '' }), refused(/non-empty/))
  assert.throws(() => parseScanRequest('abc'), refused(/not hex bytes/))
  assert.throws(() => parseScanRequest('????'), refused(/at least one fixed byte/))
  assert.throws(() => parseScanRequest({ pattern: 'x', type: 'glob' }), refused(/type must be/))
  assert.throws(() => parseScanRequest({ pattern: '(x*)*', type: 'regex' }), refused(/nested quantifiers/))
  assert.throws(() => parseScanRequest({ pattern: 'x', type: 'text', maxResults: 0 }), refused(/maxResults/))
  assert.throws(() => parseScanRequest({ pattern: 'x', type: 'text', range: { start: 10, end: 5 } }), refused(/range.end/))
  assert.throws(() => parseScanRequest({ pattern: 'x', type: 'text', range: { start: 'here' } }), refused(/range.start must be an address/))
})
