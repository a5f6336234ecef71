/**
 * Hostile and truncated blobs: each broken header field gets its own
 * message with the offset, and fast-check throws truncations, random header
 * bytes, random type words, huge vlen counts and wild string offsets at the
 * parser and every lookup. Only MemweaveErrors may come out, each quickly.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { MemweaveError } from '../../../errors/index.js'
import { BtfBuilder } from './btf-builder.js'
import { parseBtf } from './btf.js'
import type { StructLayout, TypeInfo } from './btf-types.js'

function fails(fn: () => unknown, kind: string, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof MemweaveError, `not a MemweaveError: ${String(err)}`)
    assert.equal(err.origin, 'os')
    assert.equal(err.kind, kind, err.message)
    assert.match(err.message, pattern)
    return true
  })
}

const NAMES = ['list_head', 'task_struct', 'mm_struct', 'pid_t', 'maple_type', 'u', 'wide', 'loop', 'x']
const PATHS = ['next', 'prev', 'pid', 'tasks', 'tasks.next', 'mm', 'comm', 'rcu', 'deep', 'bits', 'pgd', 'a', 'b']

function sample(): Uint8Array {
  const b = new BtfBuilder()
  const int = b.int('int', 4, { signed: true })
  const ulong = b.int('long unsigned int', 8)
  const list = b.struct('list_head', 16)
  const listPtr = b.ptr(list)
  b.setMembers(list, [{ name: 'next', type: listPtr, bitOffset: 0 }, { name: 'prev', type: listPtr, bitOffset: 64 }])
  const pid = b.typedef('pid_t', b.const(int))
  const anon = b.union('', 16, [{ name: 'rcu', type: list, bitOffset: 0 }, { name: 'deep', type: int, bitOffset: 0 }])
  const mm = b.struct('mm_struct', 8, [{ name: 'pgd', type: ulong, bitOffset: 0 }])
  b.struct('task_struct', 64, [
    { name: 'pid', type: pid, bitOffset: 0 },
    { name: 'bits', type: int, bitOffset: 33, bitSize: 5 },
    { name: 'tasks', type: list, bitOffset: 64 },
    { name: 'mm', type: b.ptr(mm), bitOffset: 192 },
    { name: 'comm', type: b.array(b.int('char', 1), 16, int), bitOffset: 256 },
    { name: '', type: anon, bitOffset: 384 },
  ])
  b.enum('maple_type', 4, [['maple_dense', 0], ['maple_leaf_64', 1]])
  b.enum('wide', 8, [['W', 5]], true)
  b.union('u', 8, [{ name: 'a', type: ulong, bitOffset: 0 }, { name: 'b', type: b.volatile(int), bitOffset: 0 }])
  b.typedef('loop', b.nextId)
  b.func('f', b.funcProto(int, [['a', int]]))
  b.float('double', 8)
  return b.build()
}

function withU32(bytes: Uint8Array, offset: number, value: number): Uint8Array {
  const copy = bytes.slice()
  new DataView(copy.buffer).setUint32(offset, value >>> 0, true)
  return copy
}

test('each broken header field is named with its offset', () => {
  const good = sample()
  const typeLen = new DataView(good.buffer).getUint32(12, true)
  fails(() => parseBtf(good.subarray(0, 10)), 'malformed', /blob is 10 bytes, shorter than the 24-byte header/)
  fails(() => parseBtf(withU32(good, 0, 0x01001234)), 'malformed', /bad magic 0x1234 at offset 0/)
  const swapped = good.slice()
  swapped[0] = 0xeb
  swapped[1] = 0x9f
  fails(() => parseBtf(swapped), 'unsupported', /big-endian .*only little-endian/)
  const v2 = good.slice()
  v2[2] = 2
  fails(() => parseBtf(v2), 'unsupported', /version 2 at offset 2/)
  fails(() => parseBtf(withU32(good, 4, 8)), 'malformed', /hdr_len 8 at offset 4/)
  fails(() => parseBtf(withU32(good, 4, 1 << 30)), 'malformed', /hdr_len 1073741824 at offset 4/)
  fails(() => parseBtf(withU32(good, 12, typeLen + 4000)), 'malformed', /type section .* runs past/)
  fails(() => parseBtf(withU32(good, 12, typeLen - 2)), 'malformed', /not 4-byte aligned/)
  fails(() => parseBtf(withU32(good, 20, 0xffffffff)), 'malformed', /string section .* runs past/)
  fails(() => parseBtf(withU32(good, 16, 8)), 'malformed', /overlaps string section/)
  fails(() => parseBtf(good.subarray(0, good.length - 1)), 'malformed', /runs past/)
  const noNul = good.slice()
  noNul[noNul.length - 1] = 0x41
  fails(() => parseBtf(noNul), 'malformed', /string section ends at offset \d+ without a NUL/)
  const noEmpty = good.slice()
  noEmpty[24 + typeLen] = 0x41
  fails(() => parseBtf(noEmpty), 'malformed', /must start with an empty string/)
})

test('types that overrun their section, wild name offsets and too many types are refused', () => {
  const good = sample()
  const typeLen = new DataView(good.buffer).getUint32(12, true)
  // Cut the type section mid-way through the 2-word int data of type 1.
  fails(() => parseBtf(withU32(good, 12, 12)), 'malformed', /type 1 \(INT\) at offset 24 needs 16 bytes; section ends at 36/)
  fails(() => parseBtf(withU32(good, 12, 16 + 8)), 'malformed', /type 2 at offset 40: truncated header/)
  // Type 1's name offset points past the strings.
  fails(() => parseBtf(withU32(good, 24, 1 << 20)), 'malformed', /type 1 at offset 24: name offset 1048576 is past the string section/)
  // A struct claiming 65535 members.
  const hugeVlen = new BtfBuilder()
  hugeVlen.raw([0, (4 << 24 | 0xffff) >>> 0, 8])
  fails(() => parseBtf(hugeVlen.build()), 'malformed', /type 1 \(STRUCT\) at offset 24 needs 786432 bytes/)
  fails(() => parseBtf(good, { maxTypes: 3 }), 'too_large', /more than 3 types/)
  assert.ok(typeLen > 0)
})

test('a member name offset past the strings is caught lazily, on lookup', () => {
  const b = new BtfBuilder()
  const int = b.int('int', 4)
  b.struct('s', 4, [{ name: 'ok', type: int, bitOffset: 0 }])
  const bytes = b.build()
  // Member 0's name_off is the first word after struct 2's header: 24 + 16 (int) + 12.
  const broken = withU32(bytes, 24 + 16 + 12, 0x7fffffff)
  const btf = parseBtf(broken)
  fails(() => btf.struct('s').field('ok'), 'malformed', /member 0 of type 2: string offset 2147483647 is past the string section/)
})

/** Touches everything reachable from the known names; returns the number of MemweaveErrors seen. */
function exercise(bytes: Uint8Array): number {
  let errors = 0
  const guard = (fn: () => unknown): void => {
    try {
      fn()
    } catch (err) {
      if (!(err instanceof MemweaveError) || err.origin !== 'os') throw err
      errors += 1
    }
  }
  let btf
  try {
    btf = parseBtf(bytes)
  } catch (err) {
    if (!(err instanceof MemweaveError) || err.origin !== 'os') throw err
    assert.ok(['malformed', 'unsupported', 'too_large'].includes(err.kind), err.message)
    return 1
  }
  const parsed = btf
  const visit = (info: TypeInfo, depth: number): void => {
    if (depth > 4) return
    if (info.kind === 'ptr' && typeof info.target !== 'string') visit(info.target, depth + 1)
    if (info.kind === 'array') visit(info.element, depth + 1)
    if (info.kind === 'struct' || info.kind === 'union') walk(info.layout, depth + 1)
  }
  const walk = (layout: StructLayout, depth: number): void => {
    for (const path of PATHS) guard(() => visit(layout.field(path).type, depth))
  }
  for (const name of NAMES) {
    guard(() => walk(parsed.struct(name), 0))
    guard(() => parsed.sizeOf(name))
    guard(() => visit(parsed.type(name), 0))
    guard(() => parsed.enumValue(name, 'maple_leaf_64'))
  }
  guard(() => parsed.enumValue('', 'W'))
  return errors
}

/**
 * The fuzz tests catch a hang or a blow-up, not slowness: they carry no per-case wall-clock limit
 * (one flakes on a loaded 2-core machine), only this test timeout, far above any sane run, which a
 * parser that loops on a cyclic type graph still hits. Speed is npm run bench's.
 */
const HANG = { timeout: 10 * 60_000 }

test('the unmodified sample passes the exerciser with only expected misses', () => {
  const bytes = sample()
  const btf = parseBtf(bytes)
  assert.equal(btf.struct('task_struct').field('tasks.next').offsetBytes, 8)
  fails(() => btf.sizeOf('loop'), 'malformed', /cycle/)
  assert.ok(exercise(bytes) > 0)
})

test('fuzz: truncations at every length only give MemweaveErrors', HANG, () => {
  const bytes = sample()
  for (let length = 0; length < bytes.length; length++) exercise(bytes.subarray(0, length))
  fc.assert(fc.property(fc.integer({ min: 0, max: bytes.length }), (typeLen) => {
    // Shrink the declared type section instead: the parser then meets a type cut mid-way.
    exercise(withU32(bytes, 12, typeLen & ~3))
  }), { numRuns: 200, seed: 1 })
})

test('fuzz: random header bytes', HANG, () => {
  const bytes = sample()
  fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), fc.boolean(), (edits, keepMagic) => {
    const copy = bytes.slice()
    for (const [at, value] of edits) copy[at] = value
    if (keepMagic) { copy[0] = 0x9f; copy[1] = 0xeb; copy[2] = 1 }
    exercise(copy)
  }), { numRuns: 500, seed: 2 })
})

test('fuzz: random words in the type section, including kinds, vlen counts and string offsets', HANG, () => {
  const bytes = sample()
  const typeLen = new DataView(bytes.buffer).getUint32(12, true)
  const words = typeLen / 4
  const wordValue = fc.oneof(
    fc.integer({ min: 0, max: 0xffffffff }),
    fc.integer({ min: 0, max: 64 }),
    fc.tuple(fc.integer({ min: 0, max: 31 }), fc.integer({ min: 0, max: 0xffff }), fc.boolean()).map(([kind, vlen, flag]) => ((flag ? 1 << 31 : 0) | kind << 24 | vlen) >>> 0),
  )
  fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: words - 1 }), wordValue), { minLength: 1, maxLength: 6 }), (edits) => {
    let copy = bytes
    for (const [word, value] of edits) copy = withU32(copy, 24 + word * 4, value)
    exercise(copy)
  }), { numRuns: 1000, seed: 3 })
})

test('fuzz: entirely random blobs behind a valid header', HANG, () => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 400 }), fc.integer({ min: 0, max: 400 }), (body, split) => {
    const typeLen = Math.min(split, body.length) & ~3
    const out = new Uint8Array(24 + body.length)
    const view = new DataView(out.buffer)
    view.setUint16(0, 0xeb9f, true)
    out[2] = 1
    view.setUint32(4, 24, true)
    view.setUint32(12, typeLen, true)
    view.setUint32(16, typeLen, true)
    view.setUint32(20, body.length - typeLen, true)
    out.set(body, 24)
    // Make the string section well-formed so most cases get as far as the type walk.
    if (body.length > typeLen) { out[24 + typeLen] = 0; out[out.length - 1] = 0 }
    exercise(out)
  }), { numRuns: 1000, seed: 4 })
})

test('fuzz: random type graphs (members, typedefs, pointers and arrays pointing anywhere, cycles included)', HANG, () => {
  const node = fc.record({
    kind: fc.constantFrom('struct', 'union', 'typedef', 'ptr', 'array', 'const', 'fwd'),
    named: fc.boolean(),
    targets: fc.array(fc.tuple(fc.integer({ min: 0, max: 24 }), fc.boolean(), fc.integer({ min: 0, max: 200 }), fc.integer({ min: 0, max: 9 })), { maxLength: 6 }),
  })
  fc.assert(fc.property(fc.array(node, { minLength: 1, maxLength: 24 }), (nodes) => {
    const b = new BtfBuilder()
    b.int('int', 4)
    nodes.forEach((spec, index) => {
      const name = spec.named ? NAMES[index % NAMES.length] ?? 'x' : ''
      const first = spec.targets[0]?.[0] ?? 1
      switch (spec.kind) {
        case 'struct': case 'union': {
          const members = spec.targets.map(([type, named, bitOffset, bitSize]) => ({ name: named ? PATHS[bitSize] ?? 'm' : '', type, bitOffset, bitSize }))
          if (spec.kind === 'struct') b.struct(name, 16, members)
          else b.union(name, 16, members)
          break
        }
        case 'typedef': b.typedef(name === '' ? 'loop' : name, first); break
        case 'ptr': b.ptr(first); break
        case 'array': b.array(first, spec.targets.length); break
        case 'const': b.const(first); break
        case 'fwd': b.fwd(name, spec.named); break
      }
    })
    exercise(b.build())
  }), { numRuns: 1000, seed: 5 })
})
