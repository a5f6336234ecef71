/**
 * LiME parsing: ranges from built images, and clean errors for broken or
 * hostile headers (end below start, ranges larger than the file, overlaps).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MemweaveError } from '../../errors/index.js'
import { bufferSource } from './image-source.js'
import { writeLime } from './image-writers.js'
import { LIME_HEADER_BYTES, parseLime } from './lime.js'
import { patternBytes } from './file-test-kit.js'

function parse(bytes: Uint8Array): ReturnType<typeof parseLime> {
  return parseLime(bufferSource('/img/mem.lime', bytes))
}

async function rejectsWith(bytes: Uint8Array, kind: string, pattern: RegExp): Promise<void> {
  await assert.rejects(parse(bytes), (err: unknown) => {
    assert.ok(err instanceof MemweaveError, `expected MemweaveError, got ${String(err)}`)
    assert.equal(err.kind, kind)
    assert.equal(err.origin, 'connector')
    assert.match(err.message, /\/img\/mem\.lime/)
    assert.match(err.message, pattern)
    return true
  })
}

function patched(bytes: Uint8Array, at: number, value: bigint): Uint8Array {
  const copy = bytes.slice()
  new DataView(copy.buffer).setBigUint64(at, value, true)
  return copy
}

describe('parseLime', () => {
  const a = patternBytes(4096, 1)
  const b = patternBytes(100, 2)
  const image = writeLime([{ addr: 0x1000n, data: a }, { addr: 0x100000n, data: b }])
  const second = LIME_HEADER_BYTES + a.length

  it('maps each range to the bytes after its header (inclusive end address)', async () => {
    const layout = await parse(image)
    assert.equal(layout.format, 'lime')
    assert.deepEqual(layout.ranges.map((r) => [r.start, r.length, r.backing]), [
      [0x1000n, 4096n, BigInt(LIME_HEADER_BYTES)],
      [0x100000n, 100n, BigInt(second + LIME_HEADER_BYTES)],
    ])
    assert.equal(new TextDecoder().decode(image.subarray(0, 4)), 'EMiL')
  })

  it('refuses broken headers with a clear message', async () => {
    await rejectsWith(new Uint8Array(0), 'malformed', /empty/)
    await rejectsWith(image.subarray(0, 20), 'malformed', /truncated LiME header #0/)
    await rejectsWith(image.subarray(0, second + 10), 'malformed', /truncated LiME header #1/)
    await rejectsWith(patched(image, 16, 0xfffn), 'malformed', /end 0xfff is below start 0x1000/)
    await rejectsWith(patched(image, second + 16, (1n << 64n) - 1n), 'malformed', /LiME range #1 .* only \d+ remain/)
    await rejectsWith(patched(patched(image, second + 8, 0x1800n), second + 16, 0x1800n + 99n), 'malformed', /LiME range #1 .*overlaps LiME range #0/)
    const badMagic = image.slice()
    badMagic[second] = 0
    await rejectsWith(badMagic, 'malformed', /header #1 .*bad magic/)
    const badVersion = image.slice()
    badVersion[4] = 2
    await rejectsWith(badVersion, 'unsupported', /version 2/)
  })

  it('refuses trailing bytes that are not a full header', async () => {
    const withTail = new Uint8Array(image.length + 5)
    withTail.set(image)
    await rejectsWith(withTail, 'malformed', /truncated LiME header #2/)
  })
})
