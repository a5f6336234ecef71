import assert from 'node:assert/strict'
import { test } from 'node:test'
import { hexdumpLines, parseHexBytes } from './hexdump.js'

// Expected lines are what `xxd` prints for the same bytes.
test('hexdump matches the xxd layout', () => {
  const bytes = new TextEncoder().encode('Hello, memweave!\n\x00\x7f')
  assert.deepEqual(hexdumpLines(0n, bytes), [
    '00000000: 4865 6c6c 6f2c 206d 656d 7765 6176 6521  Hello, memweave!',
    `00000010: ${'0a00 7f'.padEnd(39)}  ...`,
  ])
})

test('hexdump offsets start where the read started and widen past 4 GiB', () => {
  assert.deepEqual(hexdumpLines(0x1003n, Uint8Array.of(1, 2)), [`00001003: ${'0102'.padEnd(39)}  ..`])
  assert.match(hexdumpLines(0xfffffff8n, new Uint8Array(16))[0] ?? '', /^00000000fffffff8: /)
})

test('unreadable bytes show as ?? and ?', () => {
  const lines = hexdumpLines(0n, Uint8Array.of(0x41, 0x42, 0x43, 0x44), (i) => i < 2)
  assert.deepEqual(lines, [`00000000: ${'4142 ????'.padEnd(39)}  AB??`])
})

test('hex input accepts spaces and a 0x prefix, refuses junk', () => {
  assert.deepEqual([...parseHexBytes('de ad BE ef')], [0xde, 0xad, 0xbe, 0xef])
  assert.deepEqual([...parseHexBytes('0x0102')], [1, 2])
  assert.throws(() => parseHexBytes('abc'), /odd number of digits/)
  assert.throws(() => parseHexBytes('zz'), /other than hex digits/)
  assert.throws(() => parseHexBytes('  '), /at least one byte/)
})
