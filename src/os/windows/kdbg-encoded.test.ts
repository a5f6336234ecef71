/**
 * Encoded KDBG blocks are decoded without their keys, whichever order the
 * XORs, rotation and byte swap were applied in; random data is not taken
 * for a block.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { PageMemory } from '../os-test-kit.js'
import { bswap, rol, scanForEncodedKdbg } from './kdbg-encoded.js'
import type { PeHeader } from './pe-image.js'

const BASE = 0xfffff80412200000n
const DATA_RVA = 0x10000
const header: PeHeader = {
  machine: 0x8664, pe32Plus: true, timeDateStamp: 0, sizeOfImage: 0x20000, exportRva: 0, exportSize: 0,
  sections: [{ name: '.data', rva: DATA_RVA, virtualSize: 0x3000, rawSize: 0x3000, characteristics: 0xc0000040 }],
}

function plainBlock(): Uint8Array {
  const b = new Uint8Array(0x380)
  const v = new DataView(b.buffer)
  v.setUint32(0x10, 0x4742444b, true)
  v.setUint32(0x14, 0x380, true)
  v.setBigUint64(0x18, BASE, true)
  v.setBigUint64(0x50, BASE + 0x10200n, true)
  v.setUint16(0x2aa, 0x550, true)
  return b
}

function encode(block: Uint8Array, each: (p: bigint) => bigint): Uint8Array {
  const out = new Uint8Array(block.length)
  const src = new DataView(block.buffer)
  const dst = new DataView(out.buffer)
  for (let q = 0; q < block.length; q += 8) dst.setBigUint64(q, each(src.getBigUint64(q, true)), true)
  return out
}

const NEVER = 0x1b2e3f4a5c6d7e8fn
const ALWAYS = 0x9f8e7d6c5b4a3928n
const AT = BASE + BigInt(DATA_RVA) + 0x1f40n // straddles a page boundary

describe('encoded KDBG', () => {
  for (const [name, each] of [
    ['xor, rotate, xor address, swap, xor', (p: bigint) => bswap(rol(p ^ NEVER, Number(NEVER & 0xffn)) ^ AT) ^ ALWAYS],
    ['the inverse order', (p: bigint) => rol(bswap(p ^ ALWAYS) ^ AT, 64 - Number(NEVER & 63n)) ^ NEVER],
  ] as const) {
    it(`decodes a block encoded as: ${name}`, async () => {
      const mem = new PageMemory()
      mem.set(BASE + BigInt(DATA_RVA), new Uint8Array(0x3000).map((_, i) => (i * 131) & 0xff))
      mem.set(AT, encode(plainBlock(), each))
      const kdbg = await scanForEncodedKdbg(mem, BASE, header)
      assert.ok(kdbg !== undefined)
      assert.equal(kdbg.address, AT)
      assert.equal(kdbg.psActiveProcessHead, BASE + 0x10200n)
      assert.equal(kdbg.offsets.eprocessPeb, 0x550)
    })
  }

  it('finds nothing in data that holds no block', async () => {
    const mem = new PageMemory()
    mem.set(BASE + BigInt(DATA_RVA), new Uint8Array(0x3000).map((_, i) => (i * 7919 + (i >> 3)) & 0xff))
    assert.equal(await scanForEncodedKdbg(mem, BASE, header), undefined)
  })
})
