/**
 * The handle rules of docs/architecture.md §4, on the HandleTable alone:
 * one handle per open leaf, shared by every owner that opens it, counted per
 * owner; a handle is only usable by an owner that holds it; the leaf closes
 * with the last reference; an owner that goes away drops exactly its own
 * references; a stale handle fails every call and a new open gets a new
 * handle. (Exclusive holds: exclusive-holds.test.ts; the open/close race:
 * handles.test.ts.)
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MemweaveError } from '../errors/index.js'
import { HandleTable } from './handles.js'
import { Lifetime } from './lifetime.js'
import type { Leaf } from './tree-node.js'

interface CountingLeaf { readonly leaf: Leaf; readonly opens: () => number; readonly closes: () => number }

function countingLeaf(identity: string, lifetime = new Lifetime(`object '${identity}'`)): CountingLeaf {
  let opens = 0
  let closes = 0
  const leaf: Leaf = {
    type: 'leaf', identity, lifetime,
    meta: () => ({ sizeBytes: 8n, readable: true, writable: false, rpc: false, content: 'binary' as const }),
    open: async () => { opens++; return { sizeBytes: 8n, close: async () => { closes++ } } },
  }
  return { leaf, opens: () => opens, closes: () => closes }
}

const failsWith = (kind: string, message: RegExp) => (err: unknown): boolean => {
  assert.ok(err instanceof MemweaveError && err.kind === kind, String(err))
  assert.match(err.message, message)
  return true
}

test('owners opening the same leaf share one handle, counted per owner', async () => {
  const table = new HandleTable()
  const mem = countingLeaf('dump/mem')
  const a1 = await table.open('connector/dump/mem', mem.leaf, 'conn-1')
  const b1 = await table.open('connector/dump/mem', mem.leaf, 'conn-2')
  const a2 = await table.open('connector/dump/mem', mem.leaf, 'conn-1')
  assert.equal(b1.handle, a1.handle)
  assert.equal(a2.handle, a1.handle)
  assert.equal(mem.opens(), 1, 'the leaf is opened once')
  assert.deepEqual(table.summaries().map((s) => s.refs), [{ 'conn-1': 2, 'conn-2': 1 }])
  assert.equal(table.ownedBy('conn-1'), 1, 'distinct handles, not references')
  assert.equal(table.size, 1)
})

test('concurrent first opens of one leaf make one handle', async () => {
  const table = new HandleTable()
  const mem = countingLeaf('dump/mem')
  const entries = await Promise.all(['conn-1', 'conn-2', 'conn-3'].map((owner) => table.open('m', mem.leaf, owner)))
  assert.equal(new Set(entries.map((e) => e.handle)).size, 1)
  assert.equal(mem.opens(), 1)
})

test('different leaves get different handles; an owner counts each', async () => {
  const table = new HandleTable()
  const first = await table.open('a', countingLeaf('a').leaf, 'conn-1')
  const second = await table.open('b', countingLeaf('b').leaf, 'conn-1')
  assert.notEqual(first.handle, second.handle)
  assert.equal(table.ownedBy('conn-1'), 2)
})

test('a handle serves only owners that hold it', async () => {
  const table = new HandleTable()
  const { handle } = await table.open('m', countingLeaf('m').leaf, 'conn-1')
  assert.equal((await table.get(handle, 'conn-1')).handle, handle)
  await assert.rejects(table.get(handle, 'conn-2'), failsWith('not_found', new RegExp(`handle ${handle} is not open`)))
  await assert.rejects(table.close(handle, 'conn-2'), failsWith('not_found', /is not open/))
  await assert.rejects(table.get(handle + 1, 'conn-1'), failsWith('not_found', /is not open/))
  assert.equal(table.isHeldBy(handle, 'conn-1'), true)
  assert.equal(table.isHeldBy(handle, 'conn-2'), false)
})

test('close lowers the owner\'s count; the leaf closes with the last reference of the last owner', async () => {
  const table = new HandleTable()
  const mem = countingLeaf('m')
  const { handle } = await table.open('m', mem.leaf, 'conn-1')
  await table.open('m', mem.leaf, 'conn-1')
  await table.open('m', mem.leaf, 'conn-2')
  await table.close(handle, 'conn-1')
  assert.deepEqual(table.summaries()[0]?.refs, { 'conn-1': 1, 'conn-2': 1 })
  await table.close(handle, 'conn-1')
  assert.equal(table.isHeldBy(handle, 'conn-1'), false)
  assert.equal(table.ownedBy('conn-1'), 0)
  await assert.rejects(table.close(handle, 'conn-1'), failsWith('not_found', /is not open/), 'no reference left to give back')
  assert.equal(mem.closes(), 0, 'conn-2 still holds it')
  await table.close(handle, 'conn-2')
  assert.equal(mem.closes(), 1)
  assert.equal(table.size, 0)
  const reopened = await table.open('m', mem.leaf, 'conn-2')
  assert.notEqual(reopened.handle, handle, 'a released handle number is not reused')
  assert.equal(mem.opens(), 2)
})

test('an owner that goes away drops exactly its references', async () => {
  const table = new HandleTable()
  const shared = countingLeaf('shared')
  const own = countingLeaf('own')
  const s = await table.open('shared', shared.leaf, 'conn-1')
  await table.open('shared', shared.leaf, 'conn-1')
  await table.open('shared', shared.leaf, 'conn-2')
  await table.open('own', own.leaf, 'conn-1')
  assert.equal(await table.dropOwner('conn-1'), 2, 'two handles, three references')
  assert.equal(own.closes(), 1, 'its own leaf is closed')
  assert.equal(shared.closes(), 0, 'the shared one stays for conn-2')
  assert.deepEqual(table.summaries().map((e) => [e.handle, e.refs]), [[s.handle, { 'conn-2': 1 }]])
  assert.equal((await table.get(s.handle, 'conn-2')).handle, s.handle)
  assert.equal(await table.dropOwner('conn-1'), 0)
})

test('a stale handle fails every call, and opening the path again gives a new handle', async () => {
  const table = new HandleTable()
  const connector = new Lifetime("connector 'dump'")
  const lifetime = new Lifetime("process 42", connector)
  const mem = countingLeaf('os/g/42/mem', lifetime)
  const { handle } = await table.open('os/g/processes/by-pid/42/mem', mem.leaf, 'conn-1')
  connector.end('was removed')
  assert.equal(lifetime.ended, true, 'a parent ending ends its children')
  await assert.rejects(table.get(handle, 'conn-1'), failsWith('stale', /stale handle \d+ \(os\/g\/processes\/by-pid\/42\/mem\): process 42 was removed/))
  assert.equal(table.summaries()[0]?.stale, true)
  // The same identity on a new object (a new lifetime) is a new handle; the old one stays stale.
  const fresh = countingLeaf('os/g/42/mem')
  const again = await table.open('os/g/processes/by-pid/42/mem', fresh.leaf, 'conn-1')
  assert.notEqual(again.handle, handle)
  await assert.rejects(table.get(handle, 'conn-1'), failsWith('stale', /stale handle/))
  await table.close(handle, 'conn-1')
  assert.equal(mem.closes(), 1, 'closing a stale handle still releases it')
})

test('a staleness check (a file replaced, a pid reused) makes the handle stale without anyone ending it', async () => {
  const table = new HandleTable()
  let replaced = false
  const lifetime = new Lifetime("connector 'dump'", undefined, () => (replaced ? 'was replaced on disk' : undefined))
  const mem = countingLeaf('dump/mem', lifetime)
  const { handle } = await table.open('connector/dump/mem', mem.leaf, 'conn-1')
  assert.equal((await table.get(handle, 'conn-1')).handle, handle)
  replaced = true
  await assert.rejects(table.get(handle, 'conn-1'), failsWith('stale', /was replaced on disk/))
  // Sharing never hands out a stale handle: the next open makes a new one.
  const next = await table.open('connector/dump/mem', countingLeaf('dump/mem').leaf, 'conn-2')
  assert.notEqual(next.handle, handle)
})

test('opening a leaf whose object is already gone fails as stale and leaves no handle', async () => {
  const table = new HandleTable()
  const lifetime = new Lifetime("process 7")
  lifetime.end('exited')
  const mem = countingLeaf('p7/mem', lifetime)
  await assert.rejects(table.open('p7/mem', mem.leaf, 'conn-1'), failsWith('stale', /process 7 exited/))
  assert.equal(table.size, 0)
  assert.equal(table.ownedBy('conn-1'), 0)
  assert.equal(mem.opens(), 0)
})
