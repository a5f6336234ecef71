import assert from 'node:assert/strict'
import { test } from 'node:test'
import { FrameDecoder, frameOf, MAX_FRAME_BYTES } from './frames.js'

test('frames survive any split of the byte stream', () => {
  const bodies = [new Uint8Array(0), Uint8Array.from([1, 2, 3]), new Uint8Array(70_000).fill(7)]
  const stream = Buffer.concat(bodies.flatMap((b) => frameOf(b)))
  for (const step of [1, 3, 4, 5, 1000, stream.length]) {
    const decoder = new FrameDecoder()
    const out: Uint8Array[] = []
    for (let at = 0; at < stream.length; at += step) out.push(...decoder.push(stream.subarray(at, at + step)))
    assert.deepEqual(out.map((b) => Buffer.from(b).toString('hex')), bodies.map((b) => Buffer.from(b).toString('hex')), `step ${step}`)
    assert.equal(decoder.pendingBytes, 0)
  }
})

test('an oversized frame is refused on either side', () => {
  const header = Buffer.alloc(4)
  header.writeUInt32BE(MAX_FRAME_BYTES + 1)
  assert.throws(() => new FrameDecoder().push(header), /announced a frame of/)
  assert.throws(() => frameOf(new Uint8Array(MAX_FRAME_BYTES + 1)), /exceeds/)
})
