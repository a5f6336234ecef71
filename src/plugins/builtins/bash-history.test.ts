import assert from 'node:assert/strict'
import { test } from 'node:test'
import { fakeContext } from '../plugin-test-kit.js'
import { bashHistory } from './bash-history.js'

/** A fake bash heap: strings and HIST_ENTRY structures placed by hand, and the history array. */
function heap(): { bytes: Buffer; base: bigint } {
  const base = 0x555500000000n
  const bytes = Buffer.alloc(64 * 1024)
  let cursor = 0x100
  const put = (data: Buffer): bigint => {
    cursor = (cursor + 15) & ~15
    data.copy(bytes, cursor)
    const addr = base + BigInt(cursor)
    cursor += data.length
    return addr
  }
  const entry = (line: string, time: number): bigint => {
    const lineAddr = put(Buffer.from(`${line}\0`))
    const timeAddr = put(Buffer.from(`#${time}\0`))
    const struct = Buffer.alloc(24)
    struct.writeBigUInt64LE(lineAddr, 0)
    struct.writeBigUInt64LE(timeAddr, 8)
    return put(struct)
  }
  const first = entry('ls -la', 1_700_000_000)
  const second = entry('echo "two\nlines"', 1_700_000_100)
  const third = entry('cat /etc/hostname', 1_700_000_050)
  // A freed entry still in memory, not in the history list.
  entry('old command', 1_600_000_000)
  // Noise: a timestamp-looking string no entry points at, and a pointer to a non-string.
  put(Buffer.from('#1700000999\0'))
  const list = Buffer.alloc(32)
  for (const [i, e] of [first, second, third].entries()) list.writeBigUInt64LE(e, i * 8)
  put(list)
  return { bytes, base }
}

test('recovers entries in history-list order, then the rest by time; escapes newlines', async () => {
  const { bytes, base } = heap()
  const ctx = fakeContext(bytes, {
    base,
    maps: [
      { start: base, end: base + BigInt(bytes.length), perms: 'rw-p', offset: 0n, path: '[heap]' },
      { start: 0x1000n, end: 0x2000n, perms: 'r--p', offset: 0n, path: '/bin/bash' },
    ],
  })
  assert.equal(await bashHistory(ctx), [
    '2023-11-14T22:13:20Z\tls -la',
    '2023-11-14T22:15:00Z\techo "two\\nlines"',
    '2023-11-14T22:14:10Z\tcat /etc/hostname',
    '2020-09-13T12:26:40Z\told command',
    '',
  ].join('\n'))
})

test('a process without a heap has no history', async () => {
  assert.equal(await bashHistory(fakeContext(Buffer.alloc(16), { maps: [] })), '')
})
