/**
 * The client's channel reader against frames a daemon could send: good
 * frames land in the memory asked for (the caller's target, or fresh
 * buffers), a failed piece keeps its error, and everything out of line
 * (bad magic, an id nobody asked for, more bytes than asked, lengths that
 * do not add up, garbage meta, data before any was asked) is a protocol
 * error naming what was wrong.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MemweaveError } from '../errors/index.js'
import { ChannelReader } from './client-data-channel.js'
import type { ChannelExpectation } from './client-data-channel.js'
import { encodeMessage } from './codec.js'
import { CHANNEL_MAGIC, encodeChannelHead } from './data-channel.js'
import type { WireReadResult } from './messages.js'

const UPGRADE = Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: memweave-data\r\nConnection: Upgrade\r\n\r\n')

function reader(expected: Map<number, ChannelExpectation>): { reader: ChannelReader; delivered: Array<{ id: number; results: WireReadResult[] }> } {
  const delivered: Array<{ id: number; results: WireReadResult[] }> = []
  const r = new ChannelReader({ expect: (id) => expected.get(id), deliver: (id, results) => delivered.push({ id, results }) }, 1 << 20, () => {})
  r.feed(UPGRADE)
  return { reader: r, delivered }
}

function header(id: number, metaBytes: number, dataBytes: number, magic = CHANNEL_MAGIC): Buffer {
  const head = Buffer.alloc(16)
  head.writeUInt32LE(magic, 0)
  head.writeUInt32LE(id, 4)
  head.writeUInt32LE(metaBytes, 8)
  head.writeUInt32LE(dataBytes, 12)
  return head
}

function frame(id: number, meta: unknown, data: Uint8Array): Buffer {
  const encoded = encodeMessage(meta)
  return Buffer.concat([header(id, encoded.length, data.length), encoded, data])
}

test('a frame lands in the target, a failed piece keeps its error; read() pieces get fresh buffers', () => {
  const target = new Uint8Array(16)
  const expected = new Map<number, ChannelExpectation>([
    [7, { lengths: [8, 4, 8], into: (i) => (i === 0 ? target.subarray(0, 8) : i === 2 ? target.subarray(8, 16) : undefined), discard: false }],
    [8, { lengths: [3], into: undefined, discard: false }],
  ])
  const { reader: r, delivered } = reader(expected)
  const { head } = encodeChannelHead(7, [{ ok: true, length: 8 }, { ok: false, error: new MemweaveError('mem', 'unmapped', 'not mapped') }, { ok: true, length: 5 }])
  const bytes = Buffer.concat([head, Buffer.from('abcdefgh'), Buffer.from('12345'), frame(8, [3], Buffer.from('xyz'))])
  // Fed in awkward pieces, as a socket would.
  for (let at = 0; at < bytes.length; at += 3) r.feed(bytes.subarray(at, at + 3))
  assert.equal(Buffer.from(target.subarray(0, 13)).toString(), 'abcdefgh12345')
  assert.deepEqual(delivered.map((d) => d.id), [7, 8])
  const [first, second] = delivered
  assert.ok(first !== undefined && second !== undefined)
  assert.equal('error' in (first.results[1] ?? {}), true)
  const piece = first.results[0]
  assert.ok(piece !== undefined && 'data' in piece && piece.data.buffer === target.buffer, 'written in place')
  const fresh = second.results[0]
  assert.ok(fresh !== undefined && 'data' in fresh && Buffer.from(fresh.data).toString() === 'xyz')
})

test('a reply nobody waits for any more is read and dropped', () => {
  const { reader: r, delivered } = reader(new Map([[3, { lengths: [100_000], into: undefined, discard: true }]]))
  r.feed(frame(3, [100_000], new Uint8Array(100_000).fill(1)))
  assert.equal(delivered.length, 1)
})

test('frames out of line are protocol errors that say what was wrong', () => {
  const expect = (): Map<number, ChannelExpectation> => new Map([[1, { lengths: [4], into: undefined, discard: false }]])
  const cases: Array<[Buffer, RegExp]> = [
    [Buffer.concat([header(1, 2, 4, 0x12345678), Buffer.alloc(6)]), /magic/],
    [frame(2, [4], Buffer.alloc(4)), /request 2, which asked for no reply there/],
    [frame(1, [5], Buffer.alloc(5)), /piece 0 5 bytes of 4 asked/],
    [frame(1, [4, 4], Buffer.alloc(8)), /one entry per piece/],
    [Buffer.concat([header(1, encodeMessage([4]).length, 3), encodeMessage([4]), Buffer.alloc(3)]), /announces 3 bytes but its pieces hold 4/],
    [header(1, 0, 0), /announces 0 bytes of meta/],
    [header(1, 4, 2 << 20), /more than a read may ask/],
    [Buffer.concat([header(1, 1, 0), Buffer.from([0x92])]), /not valid msgpack/],
    [frame(1, ['four'], Buffer.alloc(0)), /malformed entry for piece 0/],
  ]
  for (const [bytes, message] of cases) {
    const { reader: r } = reader(expect())
    assert.throws(() => r.feed(bytes), (err: unknown) => err instanceof MemweaveError && message.test(err.message), String(message))
  }
  const early = new ChannelReader({ expect: () => undefined, deliver: () => {} }, 1 << 20, () => {})
  assert.throws(() => early.feed(Buffer.concat([UPGRADE, Buffer.from('x')])), /before any was asked for/)
})
