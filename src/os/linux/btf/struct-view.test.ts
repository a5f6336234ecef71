/**
 * StructView and readStructs over real memory views (BufferMemory, counted
 * by MeteredMemory): typed getters by path, width checks, bitfields,
 * C strings, and one batch per readStructs call with per-piece errors.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MemweaveError } from '../../../errors/index.js'
import { BufferMemory, MeteredMemory, virtAddr } from '../../../mem/index.js'
import type { VirtAddr } from '../../../mem/index.js'
import { BtfBuilder } from './btf-builder.js'
import { parseBtf } from './btf.js'
import { readStruct, readStructs, StructView } from './struct-view.js'

function taskLayout() {
  const b = new BtfBuilder()
  const int = b.int('int', 4, { signed: true })
  const uint = b.int('unsigned int', 4)
  const u8 = b.int('unsigned char', 1)
  const u16 = b.int('short unsigned int', 2)
  const ulong = b.int('long unsigned int', 8)
  const slong = b.int('long int', 8, { signed: true })
  const char = b.int('char', 1, { signed: true, char: true })
  const list = b.struct('list_head', 16)
  const listPtr = b.ptr(list)
  b.setMembers(list, [{ name: 'next', type: listPtr, bitOffset: 0 }, { name: 'prev', type: listPtr, bitOffset: 64 }])
  b.struct('task_struct', 72, [
    { name: 'state', type: uint, bitOffset: 0 },
    { name: 'pid', type: int, bitOffset: 32 },
    { name: 'tasks', type: list, bitOffset: 64 },
    { name: 'prio', type: u8, bitOffset: 192 },
    { name: 'flags', type: u16, bitOffset: 208 },
    { name: 'in_execve', type: uint, bitOffset: 224, bitSize: 1 },
    { name: 'policy', type: uint, bitOffset: 229, bitSize: 7 },
    { name: 'odd', type: b.array(u8, 3), bitOffset: 512 },
    { name: 'utime', type: slong, bitOffset: 256 },
    { name: 'comm', type: b.array(char, 16), bitOffset: 320 },
    { name: 'spread', type: ulong, bitOffset: 452, bitSize: 60 },
  ])
  return parseBtf(b.build()).struct('task_struct')
}

function taskBytes(pid: number, comm: string): Uint8Array {
  const bytes = new Uint8Array(72)
  const view = new DataView(bytes.buffer)
  view.setUint32(0, 0x402, true)
  view.setInt32(4, pid, true)
  view.setBigUint64(8, 0xffff888012345678n, true)
  view.setBigUint64(16, 0xffff888087654321n, true)
  bytes[24] = 120
  view.setUint16(26, 0xbeef, true)
  bytes[28] = 0b1010_0001 // in_execve = 1 (bit 0), policy starts at bit 5: low 3 bits 0b101
  bytes[29] = 0b0000_1001 // policy bits 3..6 from byte 29 bits 0..3: 0b1001 → policy = 0b1001_101 = 77
  bytes.set([1, 2, 3], 64)
  view.setBigInt64(32, -5n, true)
  bytes.set(new TextEncoder().encode(comm), 40)
  // spread: 60 bits from bit 452 = byte 56 bit 4 .. end of byte 63.
  view.setBigUint64(56, (0xabcdef012345678n << 4n) | 0xfn, true)
  return bytes
}

test('typed getters read each field at its BTF offset', () => {
  const view = readStruct(taskBytes(-42, 'systemd'), taskLayout())
  assert.equal(view.u32('state'), 0x402)
  assert.equal(view.i32('pid'), -42)
  assert.equal(view.ptr('tasks.next'), 0xffff888012345678n)
  assert.equal(view.u64('tasks.prev'), 0xffff888087654321n)
  assert.equal(view.u8('prio'), 120)
  assert.equal(view.u16('flags'), 0xbeef)
  assert.equal(view.i64('utime'), -5n)
  assert.equal(view.cstring('comm'), 'systemd')
  assert.deepEqual([...view.bytes('odd')], [1, 2, 3])
  assert.deepEqual([...view.bytes('tasks')].slice(0, 2), [0x78, 0x56])
})

test('bitfields, uint and int by the field type', () => {
  const view = readStruct(taskBytes(-42, 'x'), taskLayout())
  assert.equal(view.bits('in_execve'), 1n)
  assert.equal(view.bits('policy'), 77n)
  assert.equal(view.bits('spread'), 0xabcdef012345678n, 'a 60-bit field spanning 8 bytes from bit 4')
  assert.equal(view.uint('policy'), 77n)
  assert.equal(view.uint('prio'), 120n)
  assert.equal(view.uint('pid'), 0xffffffd6n)
  assert.equal(view.int('pid'), -42n)
  assert.equal(view.int('policy'), -51n, 'a 7-bit field sign-extends from its own width')
  assert.equal(view.bits('prio'), 120n, 'bits() on an ordinary integer is its value')
})

test('a full 16-byte comm without NUL decodes all 16 bytes', () => {
  const view = readStruct(taskBytes(1, 'abcdefghijklmnop'), taskLayout())
  assert.equal(view.cstring('comm'), 'abcdefghijklmnop')
})

test('getters refuse fields of another width, bitfields, and fields past the bytes read', () => {
  const layout = taskLayout()
  const view = new StructView(taskBytes(1, 'x'), layout, 0xffff0000n)
  const refused = (fn: () => unknown, kind: string, pattern: RegExp): void => {
    assert.throws(fn, (err: unknown) => err instanceof MemweaveError && err.origin === 'os' && err.kind === kind && pattern.test(err.message))
  }
  refused(() => view.u64('pid'), 'invalid_argument', /struct task_struct at 0xffff0000: field 'pid' is 4 bytes; u64\(\) reads 8/)
  refused(() => view.ptr('state'), 'invalid_argument', /ptr\(\) reads 8/)
  refused(() => view.u32('in_execve'), 'invalid_argument', /1-bit bitfield; use bits\(\)/)
  refused(() => view.uint('odd'), 'invalid_argument', /'odd' is 3 bytes; uint\(\) reads 1, 2, 4 or 8/)
  refused(() => view.u32('nope'), 'not_found', /struct task_struct has no field 'nope'/)
  const prefix = readStruct(taskBytes(1, 'x').subarray(0, 16), layout)
  assert.equal(prefix.i32('pid'), 1)
  refused(() => prefix.u64('tasks.prev'), 'out_of_bounds', /needs bytes 16\.\.24, only 16 were read/)
  refused(() => prefix.cstring('comm'), 'out_of_bounds', /cstring\('comm'\)/)
})

test('readStructs reads every address in one batch and keeps each failure to its own piece', async () => {
  const layout = taskLayout()
  const memory = new Uint8Array(4096)
  memory.set(taskBytes(1, 'init'), 0x100)
  memory.set(taskBytes(2, 'kthreadd'), 0x200)
  const metered = new MeteredMemory<VirtAddr>(new BufferMemory<VirtAddr>(memory))
  const addrs = [virtAddr(0x100), virtAddr(0x2000), virtAddr(0x200)]
  const views = await readStructs(metered, addrs, layout)
  assert.equal(metered.stats.readBatches, 1)
  assert.equal(metered.stats.readPieces, 3)
  const [init, missing, kthreadd] = views
  assert.ok(init instanceof StructView && kthreadd instanceof StructView)
  assert.equal(init.cstring('comm'), 'init')
  assert.equal(init.addr, 0x100n)
  assert.equal(kthreadd.i32('pid'), 2)
  assert.ok(missing instanceof MemweaveError && missing.origin === 'mem' && missing.kind === 'out_of_bounds')

  const prefixes = await readStructs(metered, [virtAddr(0x200)], layout, 8)
  const [prefix] = prefixes
  assert.ok(prefix instanceof StructView)
  assert.equal(prefix.data.length, 8)
  assert.equal(prefix.i32('pid'), 2)
  assert.deepEqual(await readStructs(metered, [], layout), [])
  assert.equal(metered.stats.readBatches, 2, 'an empty address list reads nothing')
  await assert.rejects(readStructs(metered, addrs, layout, 0), (err: unknown) => err instanceof MemweaveError && err.kind === 'invalid_argument')
})
