/** RSP framing: checksums, packets split across chunks, interrupts, bad checksums and binary escapes. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { escapeBinary, framePacket, RspDecoder } from './rsp-framing.js'

test('frames carry the checksum gdb expects', () => {
  assert.equal(framePacket('OK').toString(), '$OK#9a')
  assert.equal(framePacket('').toString(), '$#00')
})

test('the decoder joins split packets, skips acks, reports interrupts and bad checksums', () => {
  const decoder = new RspDecoder()
  assert.deepEqual(decoder.push(Buffer.from('+$qSupp')), [])
  const events = decoder.push(Buffer.from('orted#37+\x03$g#00$m0,1#fa'))
  assert.deepEqual(events.map((e) => (e.type === 'packet' ? e.payload.toString() : e.type)), ['qSupported', 'interrupt', 'bad-checksum', 'm0,1'])
})

test('binary replies escape #, $, } and *', () => {
  assert.deepEqual([...escapeBinary(Uint8Array.from([0x23, 0x41, 0x24, 0x7d, 0x2a]))], [0x7d, 0x03, 0x41, 0x7d, 0x04, 0x7d, 0x5d, 0x7d, 0x0a])
})
