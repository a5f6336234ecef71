import assert from 'node:assert/strict'
import { test } from 'node:test'
import { fakeContext } from '../plugin-test-kit.js'
import { processStrings, StringFinder, STRINGS_MAX_LINE } from './strings.js'

async function collect(source: AsyncIterable<string>): Promise<string> {
  let out = ''
  for await (const chunk of source) out += chunk
  return out
}

test('finds runs of at least the minimum length, with tabs, at their addresses', () => {
  const finder = new StringFinder(4)
  const data = Buffer.from('\0abc\0abcd\0x\tyz!\xff', 'latin1')
  assert.equal(finder.push(0x1000n, data) + finder.flush(), '0x1005 abcd\n0x100a x\tyz!\n')
})

test('a string across two contiguous runs is one string; across a gap it is two', () => {
  const finder = new StringFinder(6)
  const out = finder.push(0x2000n, Buffer.from('\0\0hello-')) + finder.push(0x2008n, Buffer.from('world\0')) +
    finder.push(0x3000n, Buffer.from('abcdef')) + finder.push(0x4000n, Buffer.from('ghijkl\0'))
  assert.equal(out + finder.flush(), '0x2002 hello-world\n0x3000 abcdef\n0x4000 ghijkl\n')
})

test('an endless printable run is cut into lines of STRINGS_MAX_LINE', () => {
  const finder = new StringFinder(6)
  const lines = (finder.push(0n, Buffer.alloc(STRINGS_MAX_LINE * 2 + 10, 0x41)) + finder.flush()).split('\n').filter((l) => l !== '')
  assert.deepEqual(lines.map((l) => l.split(' ')[0]), ['0x0', `0x${STRINGS_MAX_LINE.toString(16)}`, `0x${(STRINGS_MAX_LINE * 2).toString(16)}`])
  assert.equal(lines[2], `0x${(STRINGS_MAX_LINE * 2).toString(16)} AAAAAAAAAA`)
})

test('processStrings streams over the readable ranges, skipping unreadable pages, across chunk seams', async () => {
  const bytes = Buffer.alloc(3 * 1024 * 1024)
  bytes.write('first-string', 0x10)
  bytes.write('seam-crossing-string', 0x100000 - 6)
  bytes.write('in-a-hole-string', 0x200100)
  bytes.write('after-the-hole', 0x201010)
  const base = 0x7f0000000000n
  const ctx = fakeContext(bytes, { base, holes: new Set([(base + 0x200000n) / 4096n]) })
  const text = await collect(processStrings(ctx))
  assert.equal(text, [
    `0x${(base + 0x10n).toString(16)} first-string`,
    `0x${(base + 0xffffan).toString(16)} seam-crossing-string`,
    `0x${(base + 0x201010n).toString(16)} after-the-hole`,
    '',
  ].join('\n'))
})
