/**
 * Hostile kernel structures fail cleanly and fast: a VAD tree with a cycle,
 * VADs that overlap, a list entry whose Blink lies, a list that never
 * returns to its head, a pointer out of range.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MemweaveError } from '../../errors/index.js'
import { PageMemory } from '../os-test-kit.js'
import { isKernelAddress, walkRing } from './process-ring.js'
import { readVads } from './vad-tree.js'

const K = 0xffffa00000000000n

function node(mem: PageMemory, at: bigint, left: bigint, right: bigint, startVpn: number, endVpn: number): void {
  const b = new Uint8Array(0x38)
  const v = new DataView(b.buffer)
  v.setBigUint64(0, left, true)
  v.setBigUint64(8, right, true)
  v.setUint32(0x18, startVpn, true)
  v.setUint32(0x1c, endVpn, true)
  mem.set(at, b)
}

function entry(mem: PageMemory, at: bigint, flink: bigint, blink: bigint): void {
  const b = new Uint8Array(16)
  new DataView(b.buffer).setBigUint64(0, flink, true)
  new DataView(b.buffer).setBigUint64(8, blink, true)
  mem.set(at, b)
}

function fails(kind: string, pattern: RegExp): (err: unknown) => boolean {
  return (err) => err instanceof MemweaveError && err.kind === kind && pattern.test(err.message)
}

describe('hostile VAD trees', () => {
  it('a cycle fails', async () => {
    const mem = new PageMemory()
    node(mem, K, K + 0x40n, 0n, 0x100, 0x100)
    node(mem, K + 0x40n, K, 0n, 0x10, 0x10)
    await assert.rejects(readVads(mem, K, 'test'), fails('malformed', /twice/))
  })

  it('overlapping VADs fail', async () => {
    const mem = new PageMemory()
    node(mem, K, K + 0x40n, 0n, 0x100, 0x200)
    node(mem, K + 0x40n, 0n, 0n, 0x150, 0x150)
    await assert.rejects(readVads(mem, K, 'test'), fails('malformed', /overlap/))
  })

  it('a user-space child pointer fails', async () => {
    const mem = new PageMemory()
    node(mem, K, 0x1000n, 0n, 0x100, 0x200)
    await assert.rejects(readVads(mem, K, 'test'), fails('malformed', /not a kernel address/))
  })
})

describe('hostile lists', () => {
  const options = { what: 'test list', maxEntries: 100, validPointer: isKernelAddress }

  it('an entry whose Blink is not the previous one fails', async () => {
    const mem = new PageMemory()
    entry(mem, K, K + 0x100n, K + 0x100n)
    entry(mem, K + 0x100n, K, K + 0x200n)
    await assert.rejects(walkRing(mem, K, options), fails('malformed', /Blink/))
  })

  it('a list that loops without its head fails', async () => {
    const mem = new PageMemory()
    entry(mem, K, K + 0x100n, K + 0x200n)
    entry(mem, K + 0x100n, K + 0x200n, K)
    entry(mem, K + 0x200n, K + 0x100n, K + 0x100n)
    await assert.rejects(walkRing(mem, K, options), fails('malformed', /loops back/))
  })

  it('a list longer than the bound fails', async () => {
    const mem = new PageMemory()
    const at = (i: number): bigint => K + BigInt(i) * 0x10n
    entry(mem, K, at(1), at(200))
    for (let i = 1; i <= 200; i++) entry(mem, at(i), i === 200 ? K : at(i + 1), i === 1 ? K : at(i - 1))
    await assert.rejects(walkRing(mem, K, options), fails('limit', /more than 100/))
  })
})
