/**
 * The layout API against blobs built with BtfBuilder, where every offset is
 * known by construction: every kind, typedef chains, anonymous members,
 * both bitfield encodings, enums of every width and sign, and the errors.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MemweaveError } from '../../../errors/index.js'
import { BtfBuilder } from './btf-builder.js'
import { parseBtf } from './btf.js'
import type { Btf } from './btf.js'
import type { TypeInfo } from './btf-types.js'

function fails(fn: () => unknown, kind: string, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof MemweaveError, `not a MemweaveError: ${String(err)}`)
    assert.equal(err.origin, 'os')
    assert.equal(err.kind, kind, err.message)
    assert.match(err.message, pattern)
    return true
  })
}

/** A miniature kernel: list_head, a task_struct with the usual shapes, bitfields, enums, every other kind once. */
function kernelLike(): { btf: Btf; bytes: Uint8Array; count: number } {
  const b = new BtfBuilder()
  const int = b.int('int', 4, { signed: true })
  const uint = b.int('unsigned int', 4)
  const ulong = b.int('long unsigned int', 8)
  const char = b.int('char', 1, { signed: true, char: true })
  const u16 = b.int('short unsigned int', 2)
  const listHead = b.struct('list_head', 16)
  const listPtr = b.ptr(listHead)
  b.setMembers(listHead, [{ name: 'next', type: listPtr, bitOffset: 0 }, { name: 'prev', type: listPtr, bitOffset: 64 }])
  const pidT = b.typedef('pid_t', int)
  const constPid = b.const(b.volatile(pidT))
  const comm = b.array(char, 16, int)
  const mmFwd = b.fwd('mm_struct')
  const mmPtr = b.ptr(b.typeTag('rcu', mmFwd))
  const voidPtr = b.ptr(0)
  const thread = b.struct('thread_struct', 16, [{ name: 'sp', type: ulong, bitOffset: 0 }, { name: 'fs', type: b.restrict(ulong), bitOffset: 64 }])
  const anonInner = b.struct('', 8, [{ name: 'deep_a', type: uint, bitOffset: 0 }, { name: 'deep_b', type: uint, bitOffset: 32 }])
  const anonUnion = b.union('', 16, [{ name: 'rcu_users', type: uint, bitOffset: 0 }, { name: 'rcu', type: listHead, bitOffset: 0 }, { name: '', type: anonInner, bitOffset: 0 }])
  const taskId = b.struct('task_struct', 128)
  const taskPtr = b.ptr(taskId)
  b.setMembers(taskId, [
    { name: '__state', type: uint, bitOffset: 0 },
    { name: 'pid', type: pidT, bitOffset: 32 },
    { name: 'tgid', type: constPid, bitOffset: 64 },
    { name: 'tasks', type: listHead, bitOffset: 128 },
    { name: 'mm', type: mmPtr, bitOffset: 256 },
    { name: 'real_parent', type: taskPtr, bitOffset: 320 },
    { name: 'comm', type: comm, bitOffset: 384 },
    { name: 'stack', type: voidPtr, bitOffset: 512 },
    { name: '', type: anonUnion, bitOffset: 576 },
    { name: 'thread', type: thread, bitOffset: 704 },
    { name: 'flags', type: u16, bitOffset: 832 },
    { name: 'in_execve', type: uint, bitOffset: 848, bitSize: 1 },
    { name: 'in_iowait', type: uint, bitOffset: 849, bitSize: 3 },
    { name: 'wide_bits', type: ulong, bitOffset: 900, bitSize: 40 },
  ])
  b.struct('mm_struct', 24, [{ name: 'pgd', type: ulong, bitOffset: 0 }, { name: 'mmap_base', type: ulong, bitOffset: 64 }])
  b.typedef('task_t', taskId)
  // Old-style bitfield: the INT itself carries the width and offset; the struct has no kind_flag.
  const threeBits = b.int('unsigned int', 4, { bits: 3, bitOffset: 2 })
  b.struct('old_bits', 4, [{ name: 'lo', type: threeBits, bitOffset: 0 }, { name: 'hi', type: uint, bitOffset: 0 }])
  b.enum('maple_type', 4, [['maple_dense', 0], ['maple_leaf_64', 1], ['maple_range_64', 2], ['maple_arange_64', 3]])
  b.enum('signed_enum', 4, [['MINUS_ONE', -1], ['BIG', 0x7fffffff]], true)
  b.enum('', 4, [['PIDTYPE_PID', 0], ['PIDTYPE_TGID', 1]])
  b.enum('wide', 8, [['W_MAX', 0xffffffffffffffffn], ['W_ONE', 1]])
  b.enum('wide_signed', 8, [['WS_MIN', -(2n ** 63n)]], true)
  b.typedef('maple_type_t', b.nextId - 5)
  b.float('double', 8)
  const proto = b.funcProto(int, [['a', int], ['', ulong]])
  b.func('do_exit', proto)
  const fnPtr = b.ptr(proto)
  const variable = b.variable('init_task', taskId)
  b.datasec('.data..percpu', 4096, [[variable, 0, 128]])
  b.declTag('user', variable)
  b.struct('has_fn', 8, [{ name: 'fn', type: fnPtr, bitOffset: 0 }])
  b.struct('undefined_ptr', 8, [{ name: 'p', type: b.ptr(b.fwd('nowhere')) }].map((m) => ({ ...m, bitOffset: 0 })))
  b.union('u', 8, [{ name: 'a', type: ulong, bitOffset: 0 }, { name: 'b', type: int, bitOffset: 0 }])
  const bytes = b.build()
  return { btf: parseBtf(bytes), bytes, count: b.nextId - 1 }
}

test('list_head and simple task_struct fields resolve through typedefs and qualifiers', () => {
  const { btf, count } = kernelLike()
  assert.equal(btf.typeCount, count)
  const list = btf.struct('list_head')
  assert.deepEqual([list.sizeBytes, list.field('next').offsetBytes, list.field('prev').offsetBytes], [16, 0, 8])
  const task = btf.struct('task_struct')
  assert.equal(task.kind, 'struct')
  assert.equal(task.sizeBytes, 128)
  const pid = task.field('pid')
  assert.deepEqual([pid.offsetBytes, pid.sizeBytes, pid.bitOffset, pid.bitSize], [4, 4, undefined, undefined])
  assert.deepEqual(pid.type, { kind: 'int', name: 'int', sizeBytes: 4, signed: true })
  assert.deepEqual(task.field('tgid').type, pid.type, 'const volatile typedef resolves to int')
  const comm = task.field('comm')
  assert.equal(comm.offsetBytes, 48)
  assert.equal(comm.sizeBytes, 16)
  assert.equal(comm.type.kind, 'array')
  if (comm.type.kind === 'array') {
    assert.equal(comm.type.count, 16)
    assert.deepEqual(comm.type.element, { kind: 'int', name: 'char', sizeBytes: 1, signed: true })
  }
  const tasks = task.field('tasks')
  assert.equal(tasks.offsetBytes, 16)
  assert.equal(tasks.type.kind, 'struct')
  if (tasks.type.kind === 'struct') assert.equal(tasks.type.layout.field('prev').offsetBytes, 8)
  assert.equal(task.field('tasks.prev').offsetBytes, 24)
  assert.equal(task.field('thread.fs').offsetBytes, 96)
})

test('pointer targets resolve lazily: forward declarations find their definition, void and function pointers', () => {
  const { btf } = kernelLike()
  const task = btf.struct('task_struct')
  const mm = task.field('mm').type
  assert.equal(mm.kind, 'ptr')
  if (mm.kind === 'ptr') {
    const target = mm.target
    assert.ok(typeof target !== 'string' && target.kind === 'struct')
    if (typeof target !== 'string' && target.kind === 'struct') {
      assert.equal(target.name, 'mm_struct')
      assert.equal(target.layout.field('mmap_base').offsetBytes, 8)
    }
  }
  const parent = task.field('real_parent').type
  assert.ok(parent.kind === 'ptr' && typeof parent.target !== 'string' && parent.target.kind === 'struct' && parent.target.name === 'task_struct')
  const stack = task.field('stack').type
  assert.ok(stack.kind === 'ptr' && stack.target === 'void')
  const fn = btf.struct('has_fn').field('fn').type
  assert.ok(fn.kind === 'ptr' && typeof fn.target !== 'string' && fn.target.kind === 'other' && fn.target.name === 'func_proto')
  const nowhere = btf.struct('undefined_ptr').field('p').type
  assert.ok(nowhere.kind === 'ptr' && nowhere.target === 'unresolved')
})

test('anonymous unions and structs are searched transparently, at their absolute offsets', () => {
  const task = kernelLike().btf.struct('task_struct')
  assert.equal(task.field('rcu_users').offsetBytes, 72)
  assert.equal(task.field('rcu').offsetBytes, 72)
  assert.equal(task.field('rcu.next').offsetBytes, 72)
  assert.equal(task.field('rcu.prev').offsetBytes, 80)
  assert.equal(task.field('deep_b').offsetBytes, 76, 'anonymous struct inside an anonymous union')
  assert.equal(task.has('deep_b'), true)
})

test('bitfields: kind_flag member offsets and old INT-encoded widths', () => {
  const { btf } = kernelLike()
  const task = btf.struct('task_struct')
  const execve = task.field('in_execve')
  assert.deepEqual([execve.offsetBytes, execve.bitOffset, execve.bitSize, execve.sizeBytes], [106, 0, 1, 1])
  const iowait = task.field('in_iowait')
  assert.deepEqual([iowait.offsetBytes, iowait.bitOffset, iowait.bitSize], [106, 1, 3])
  const wide = task.field('wide_bits')
  assert.deepEqual([wide.offsetBytes, wide.bitOffset, wide.bitSize, wide.sizeBytes], [112, 4, 40, 6])
  const flags = task.field('flags')
  assert.deepEqual([flags.offsetBytes, flags.sizeBytes, flags.bitSize], [104, 2, undefined])
  const old = btf.struct('old_bits')
  const lo = old.field('lo')
  assert.deepEqual([lo.offsetBytes, lo.bitOffset, lo.bitSize], [0, 2, 3])
  assert.equal(old.field('hi').bitSize, undefined)
})

test('lookups by name: typedefs to structs, struct/union prefixes, sizes, has/firstField', () => {
  const { btf } = kernelLike()
  assert.equal(btf.struct('task_t').name, 'task_struct')
  assert.equal(btf.struct('union u').kind, 'union')
  assert.equal(btf.hasStruct('struct u'), false)
  assert.equal(btf.hasStruct('mm_struct'), true, 'the definition wins over the forward declaration')
  assert.equal(btf.hasStruct('nowhere'), false, 'a forward declaration alone is not a struct')
  assert.equal(btf.sizeOf('list_head'), 16)
  assert.equal(btf.sizeOf('struct task_struct'), 128)
  assert.equal(btf.sizeOf('pid_t'), 4)
  assert.equal(btf.sizeOf('long unsigned int'), 8)
  assert.equal(btf.sizeOf('maple_type'), 4)
  assert.equal(btf.sizeOf('double'), 8)
  assert.deepEqual(btf.type('pid_t'), { kind: 'int', name: 'int', sizeBytes: 4, signed: true })
  const task = btf.struct('task_struct')
  assert.equal(task.firstField('state', '__state').offsetBytes, 0)
  assert.equal(task.has('state'), false)
  assert.equal(task.has('thread.sp'), true)
  assert.equal(task.has(''), false)
  assert.equal(task.has('thread.'), false)
  assert.equal(task.field('pid'), task.field('pid'), 'lookups are cached')
})

test('enums: unsigned, signed, 64-bit, anonymous, through typedefs', () => {
  const { btf } = kernelLike()
  assert.equal(btf.enumValue('maple_type', 'maple_leaf_64'), 1n)
  assert.equal(btf.enumValue('maple_type_t', 'maple_arange_64'), 3n)
  assert.equal(btf.enumValue('signed_enum', 'MINUS_ONE'), -1n)
  assert.equal(btf.enumValue('signed_enum', 'BIG'), 0x7fffffffn)
  assert.equal(btf.enumValue('wide', 'W_MAX'), 0xffffffffffffffffn)
  assert.equal(btf.enumValue('wide_signed', 'WS_MIN'), -(2n ** 63n))
  assert.equal(btf.enumValue('', 'PIDTYPE_TGID'), 1n)
  assert.deepEqual([...btf.enumValues('maple_type').keys()], ['maple_dense', 'maple_leaf_64', 'maple_range_64', 'maple_arange_64'])
  fails(() => btf.enumValue('maple_type', 'maple_nope'), 'not_found', /enum maple_type has no enumerator 'maple_nope'/)
  fails(() => btf.enumValue('nope', 'x'), 'not_found', /BTF has no enum 'nope'/)
  fails(() => btf.enumValue('', 'NOPE'), 'not_found', /no enum in BTF has enumerator 'NOPE'/)
})

test('missing names and paths throw os/not_found naming what was asked', () => {
  const { btf } = kernelLike()
  fails(() => btf.struct('x'), 'not_found', /^BTF has no struct 'x'$/)
  fails(() => btf.sizeOf('x'), 'not_found', /BTF has no type 'x'/)
  const task = btf.struct('task_struct')
  fails(() => task.field('x'), 'not_found', /^struct task_struct has no field 'x'$/)
  fails(() => task.field('mm.pgd'), 'not_found', /'mm' is a pointer, not an embedded struct/)
  fails(() => task.field('pid.x'), 'not_found', /'pid' is not a struct or union/)
  fails(() => task.field('in_execve.x'), 'not_found', /is a bitfield/)
  fails(() => task.firstField('state', 'task_state'), 'not_found', /struct task_struct has none of the fields 'state', 'task_state'/)
})

test('type reference cycles are detected when resolving, not looped on', () => {
  const b = new BtfBuilder()
  const loopA = b.typedef('loop_a', b.nextId + 1)
  b.typedef('loop_b', loopA)
  const selfArray = b.array(b.nextId, 4)
  b.typedef('self_array', selfArray)
  const selfAnon = b.struct('', 8)
  b.setMembers(selfAnon, [{ name: '', type: selfAnon, bitOffset: 0 }])
  b.typedef('self_anon', selfAnon)
  b.struct('holder', 8, [{ name: 'looped', type: loopA, bitOffset: 0 }, { name: 'arr', type: selfArray, bitOffset: 0 }])
  const btf = parseBtf(b.build())
  fails(() => btf.sizeOf('loop_a'), 'malformed', /type reference cycle through ids 1 -> 2 -> 1/)
  fails(() => btf.struct('loop_b'), 'malformed', /cycle/)
  fails(() => btf.sizeOf('self_array'), 'malformed', /nesting deeper than 64/)
  fails(() => btf.struct('self_anon').field('x'), 'malformed', /type 5 contains itself through anonymous members/)
  fails(() => btf.struct('holder').field('looped'), 'malformed', /cycle/)
  fails(() => btf.struct('holder').field('arr'), 'malformed', /deeper/)
})

test('references to type ids past the table are malformed, with the referrer named', () => {
  const b = new BtfBuilder()
  b.struct('broken', 8, [{ name: 'm', type: 999, bitOffset: 0 }])
  b.typedef('dangling', 500)
  b.struct('dangling_ptr', 8, [{ name: 'p', type: b.ptr(777), bitOffset: 0 }])
  const btf = parseBtf(b.build())
  fails(() => btf.struct('broken').field('m'), 'malformed', /member 'm' of type 1 refers to type id 999, outside 1\.\.\d+/)
  fails(() => btf.sizeOf('dangling'), 'malformed', /refers to type id 500/)
  const p = btf.struct('dangling_ptr').field('p').type
  assert.ok(p.kind === 'ptr' && p.target === 'unresolved', 'a getter reports a broken target instead of throwing')
})

test('a blob built twice parses the same and unknown kinds stop the parse with the offset', () => {
  const { bytes } = kernelLike()
  const copy = new Uint8Array(bytes.length + 3).subarray(3)
  copy.set(bytes)
  assert.equal(parseBtf(copy).struct('task_struct').field('comm').offsetBytes, 48, 'unaligned views parse too')
  const b = new BtfBuilder()
  b.int('int', 4)
  b.raw([0, (20 << 24) >>> 0, 0])
  fails(() => parseBtf(b.build()), 'malformed', /type 2 at offset 40: unknown kind 20/)
})

function describe(info: TypeInfo): string {
  return info.kind === 'ptr' ? 'ptr' : `${info.kind}:${'name' in info ? info.name : ''}`
}

test('every kind decodes to a TypeInfo without throwing', () => {
  const { btf } = kernelLike()
  const kinds = ['pid_t', 'task_struct', 'u', 'maple_type', 'wide', 'double', 'long unsigned int'].map((name) => describe(btf.type(name)))
  assert.deepEqual(kinds, ['int:int', 'struct:task_struct', 'union:u', 'enum:maple_type', 'enum:wide', 'other:double', 'int:long unsigned int'])
})

test('wide trees of anonymous members are searched once per struct, not once per path through them', () => {
  // 30 levels, each with two anonymous members of the next level: a naive search visits 2^30 structs.
  const b = new BtfBuilder()
  const int = b.int('int', 4)
  let inner = b.struct('', 4, [{ name: 'leaf', type: int, bitOffset: 0 }])
  for (let level = 0; level < 30; level++) {
    inner = b.struct(level === 29 ? 'top' : '', 4, [{ name: '', type: inner, bitOffset: 0 }, { name: '', type: inner, bitOffset: 0 }])
  }
  const top = parseBtf(b.build()).struct('top')
  assert.equal(top.field('leaf').offsetBytes, 0)
  assert.equal(top.has('missing'), false)
  // 40 distinct levels is past any real kernel's nesting: refused as malformed rather than recursed into.
  const deep = new BtfBuilder()
  let level = deep.struct('', 4, [{ name: 'leaf', type: deep.int('int', 4), bitOffset: 0 }])
  for (let i = 0; i < 40; i++) level = deep.struct(i === 39 ? 'deep' : '', 4, [{ name: '', type: level, bitOffset: 0 }])
  fails(() => parseBtf(deep.build()).struct('deep').field('leaf'), 'malformed', /nest deeper than 32/)
})
