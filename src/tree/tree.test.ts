import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MemweaveError } from '../errors/index.js'
import { BufferMemory } from '../mem/index.js'
import { dynamicBranch, staticBranch } from './branches.js'
import { generatedLeaf, jsonLeaf, memLeaf, rpcLeaf } from './leaves.js'
import { Lifetime } from './lifetime.js'
import { objectClass } from './mappings.js'
import type { TreeNode } from './tree-node.js'
import { Tree } from './tree.js'

function isKind(kind: string) {
  return (err: unknown): boolean => err instanceof MemweaveError && err.kind === kind
}

function sampleTree(allowWrite = false): { tree: Tree; lifetime: Lifetime; mem: BufferMemory } {
  const tree = new Tree({ allowWrite, maxPieces: 100, maxBatchBytes: 1 << 20 })
  const lifetime = new Lifetime("object 'sample'")
  const bytes = new Uint8Array(4096).map((_, i) => i & 0xff)
  const mem = new BufferMemory(bytes)
  tree.setRoot(staticBranch({
    data: staticBranch({
      mem: memLeaf({ identity: 'sample/mem', lifetime, mem }),
      info: jsonLeaf('sample/info', lifetime, () => ({ answer: 42, addr: 0xffff_8000_0000_0000n })),
      echo: rpcLeaf('sample/echo', lifetime, async (request) => ({ echoed: request })),
    }),
  }))
  return { tree, lifetime, mem }
}

test('paths resolve through branches; leaves have metadata', async () => {
  const { tree } = sampleTree()
  assert.deepEqual((await tree.list('')).map((e) => e.name), ['data'])
  assert.deepEqual((await tree.list('/data/')).map((e) => `${e.name}:${e.type}`), ['echo:leaf', 'info:leaf', 'mem:leaf'])
  const stat = await tree.stat('data/mem')
  assert.equal(stat.meta?.sizeBytes, 4096n)
  assert.equal(stat.meta?.content, 'mem')
  await assert.rejects(tree.stat('data/nope'), (err: unknown) => isKind('not_found')(err) && /no such path: 'data\/nope'/.test(String(err)))
  await assert.rejects(tree.list('data/mem'), isKind('not_a_branch'))
  await assert.rejects(tree.stat('data/mem/deeper'), isKind('not_a_branch'))
  await assert.rejects(tree.open('data', 'c'), isKind('not_a_leaf'))
})

test('opening an open, unchanged leaf shares the handle and counts references per owner', async () => {
  const { tree } = sampleTree()
  const a = await tree.open('data/mem', 'alice')
  const b = await tree.open('/data//mem', 'bob')
  const a2 = await tree.open('data/mem', 'alice')
  assert.equal(a.handle, b.handle)
  assert.equal(a.handle, a2.handle)
  assert.deepEqual(tree.handles.summaries()[0]?.refs, { alice: 2, bob: 1 })
  await tree.close(a.handle, 'alice')
  await tree.close(a.handle, 'alice')
  await assert.rejects(tree.close(a.handle, 'alice'), isKind('not_found'))
  assert.equal(tree.handles.size, 1)
  await assert.rejects(tree.read(a.handle, [{ addr: 0n, length: 1 }], 'mallory'), isKind('not_found'))
  await tree.close(b.handle, 'bob')
  assert.equal(tree.handles.size, 0)
  await assert.rejects(tree.read(a.handle, [{ addr: 0n, length: 1 }], 'bob'), isKind('not_found'))
})

test('concurrent opens of one leaf make one handle', async () => {
  const { tree } = sampleTree()
  const results = await Promise.all(Array.from({ length: 8 }, (_, i) => tree.open('data/info', `o${i % 3}`)))
  assert.equal(new Set(results.map((r) => r.handle)).size, 1)
  assert.equal(tree.handles.size, 1)
})

test('a handle whose object is gone is stale; a new open gets a new handle', async () => {
  const tree = new Tree({ allowWrite: false })
  let generation = 1
  let lifetime = new Lifetime("file 'dump.raw'")
  tree.setRoot(dynamicBranch(() => new Map<string, TreeNode>([
    ['mem', memLeaf({ identity: `dump#${generation}/mem`, lifetime, mem: new BufferMemory(new Uint8Array(16).fill(generation)) })],
  ])))
  const old = await tree.open('mem', 'c')
  assert.deepEqual([...((await tree.read(old.handle, [{ addr: 0n, length: 2 }], 'c'))[0] as { data: Uint8Array }).data], [1, 1])
  lifetime.end('was replaced on disk')
  generation = 2
  lifetime = new Lifetime("file 'dump.raw'")
  await assert.rejects(tree.read(old.handle, [{ addr: 0n, length: 2 }], 'c'),
    (err: unknown) => isKind('stale')(err) && /stale handle .*was replaced on disk/.test(String(err)))
  const fresh = await tree.open('mem', 'c')
  assert.notEqual(fresh.handle, old.handle)
  assert.deepEqual([...((await tree.read(fresh.handle, [{ addr: 0n, length: 2 }], 'c'))[0] as { data: Uint8Array }).data], [2, 2])
})

test('staleness propagates from parent lifetimes and from checks', async () => {
  const connector = new Lifetime("connector 'dump'")
  const os = new Lifetime("os 'g'", connector)
  let alive = true
  const proc = new Lifetime('process 42', os, () => (alive ? undefined : 'exited'))
  assert.equal(await proc.staleReason(), undefined)
  alive = false
  assert.equal(await proc.staleReason(), 'exited')
  const proc2 = new Lifetime('process 43', os)
  connector.end('was removed')
  assert.equal(os.ended, true)
  await assert.rejects(proc2.ensureAlive(), /process 43 was removed/)
})

test('batched reads return a result or an error per piece', async () => {
  const { tree } = sampleTree()
  const { handle } = await tree.open('data/mem', 'c')
  const results = await tree.read(handle, [
    { addr: 0n, length: 4 },
    { addr: 4095n, length: 2 },
    { addr: 10n, length: 2 },
  ], 'c')
  assert.equal(results.length, 3)
  assert.deepEqual(results[0]?.ok && [...results[0].data], [0, 1, 2, 3])
  assert.equal(results[1]?.ok, false)
  assert.deepEqual(results[2]?.ok && [...results[2].data], [10, 11])
})

test('batch limits, bad offsets and disabled writes are refused with clear errors', async () => {
  const { tree } = sampleTree(false)
  const { handle } = await tree.open('data/mem', 'c')
  await assert.rejects(tree.read(handle, Array.from({ length: 101 }, () => ({ addr: 0n, length: 1 })), 'c'), (e: unknown) => isKind('too_large')(e) && /101 pieces/.test(String(e)))
  await assert.rejects(tree.read(handle, [{ addr: 0n, length: 2 << 20 }], 'c'), isKind('too_large'))
  await assert.rejects(tree.read(handle, [{ addr: -1n, length: 1 }], 'c'), isKind('out_of_bounds'))
  await assert.rejects(tree.read(handle, [{ addr: 0n, length: 1.5 }], 'c'), isKind('invalid_argument'))
  await assert.rejects(tree.write(handle, [{ addr: 0n, data: new Uint8Array([9]) }], 'c'), (e: unknown) => isKind('permission')(e) && /--allow-write/.test(String(e)))

  const writable = sampleTree(true)
  const h = await writable.tree.open('data/mem', 'c')
  const [result] = await writable.tree.write(h.handle, [{ addr: 5n, data: new Uint8Array([0xaa]) }], 'c')
  assert.equal(result?.ok, true)
  assert.equal(writable.mem.bytes[5], 0xaa)
})

test('json leaves render bigints as hex; rpc leaves answer; text is a snapshot per open', async () => {
  const { tree } = sampleTree()
  const info = await tree.open('data/info', 'c')
  const [r] = await tree.read(info.handle, [{ addr: 0n, length: 1000 }], 'c')
  assert.ok(r?.ok)
  assert.deepEqual(JSON.parse(new TextDecoder().decode(r.data)), { answer: 42, addr: '0xffff800000000000' })
  const echo = await tree.open('data/echo', 'c')
  assert.deepEqual(await tree.rpc(echo.handle, { x: 1 }, 'c'), { echoed: { x: 1 } })
  await assert.rejects(tree.rpc(info.handle, {}, 'c'), isKind('unsupported'))

  let counter = 0
  const t2 = new Tree({ allowWrite: false })
  t2.setRoot(staticBranch({ n: generatedLeaf({ identity: 'n', lifetime: new Lifetime('n'), generate: () => `count ${++counter}\n` }) }))
  const h = await t2.open('n', 'c')
  const first = await t2.read(h.handle, [{ addr: 0n, length: 3 }, { addr: 3n, length: 100 }, { addr: 500n, length: 10 }], 'c')
  assert.equal(first.map((p) => (p.ok ? new TextDecoder().decode(p.data) : 'ERR')).join('|'), 'cou|nt 1\n|')
})

test('mappings attach leaves to object kinds with filters; duplicates throw', async () => {
  const tree = new Tree({ allowWrite: false })
  interface Proc { name: string; pid: number }
  const PROC = objectClass<Proc>('process')
  tree.registry.add<Proc>({ on: PROC, name: 'pid', leaf: (o) => jsonLeaf(`${o.identity}/pid`, o.lifetime, () => o.value.pid) })
  tree.registry.add<Proc>({ on: PROC, name: 'sshd-only', appliesTo: (p) => p.name === 'sshd', leaf: (o) => jsonLeaf(`${o.identity}/x`, o.lifetime, () => 'secret') })
  tree.registry.add<Proc>({ on: PROC, name: 'broken-filter', appliesTo: () => { throw new Error('plugin bug') }, leaf: (o) => jsonLeaf(`${o.identity}/y`, o.lifetime, () => 1) })
  assert.throws(() => tree.registry.add<Proc>({ on: PROC, name: 'pid', leaf: (o) => jsonLeaf('z', o.lifetime, () => 0) }), isKind('already_exists'))
  const lifetime = new Lifetime('p')
  const branchFor = (value: Proc) => tree.registry.objectBranch({ class: PROC, value, identity: `p${value.pid}`, lifetime })
  tree.setRoot(staticBranch({ bash: branchFor({ name: 'bash', pid: 1 }), sshd: branchFor({ name: 'sshd', pid: 2 }) }))
  assert.deepEqual((await tree.list('bash')).map((e) => e.name), ['pid'])
  assert.deepEqual((await tree.list('sshd')).map((e) => e.name), ['pid', 'sshd-only'])
  await assert.rejects(tree.stat('bash/sshd-only'), isKind('not_found'))
  assert.deepEqual(tree.registry.all().map((m) => m.name), ['pid', 'sshd-only', 'broken-filter'])
})

test('an owner that goes away drops exactly its references', async () => {
  const { tree } = sampleTree()
  const a = await tree.open('data/mem', 'conn-1')
  await tree.open('data/mem', 'conn-2')
  await tree.open('data/info', 'conn-1')
  assert.equal(await tree.handles.dropOwner('conn-1'), 2)
  assert.equal(tree.handles.size, 1)
  assert.ok((await tree.read(a.handle, [{ addr: 0n, length: 1 }], 'conn-2'))[0]?.ok)
})

test('readInto writes each piece into the caller\'s buffer, for memory and generated leaves, failures per piece', async () => {
  const { tree, lifetime } = sampleTree()
  const mem = await tree.open('data/mem', 'alice')
  const target = new Uint8Array(64).fill(0xee)
  const results = await tree.readInto(mem.handle, [
    { addr: 10n, length: 8, at: 0 },
    { addr: 4090n, length: 16, at: 8 }, // past the end: fails alone
    { addr: 100n, length: 4, at: 30 },
  ], target, 'alice')
  assert.deepEqual(results.map((r) => (r.ok ? r.length : r.error.kind)), [8, 'out_of_bounds', 4])
  assert.deepEqual([...target.subarray(0, 8)], [10, 11, 12, 13, 14, 15, 16, 17])
  assert.deepEqual([...target.subarray(30, 34)], [100, 101, 102, 103])
  assert.equal(target[34], 0xee)
  // A generated leaf has no readInto of its own: the tree reads and copies; past its end a piece comes back short.
  const info = await tree.open('data/info', 'alice')
  const text = new Uint8Array(200)
  const [whole] = await tree.readInto(info.handle, [{ addr: 0n, length: 200, at: 0 }], text, 'alice')
  assert.ok(whole?.ok === true && whole.length < 200)
  assert.match(Buffer.from(text.subarray(0, whole.length)).toString(), /"answer":\s*42/)
  await assert.rejects(tree.readInto(mem.handle, [{ addr: 0n, length: 8, at: 60 }], target, 'alice'), isKind('invalid_argument'))
  lifetime.end('gone')
  await assert.rejects(tree.readInto(mem.handle, [{ addr: 0n, length: 8, at: 0 }], target, 'alice'), isKind('stale'))
})
