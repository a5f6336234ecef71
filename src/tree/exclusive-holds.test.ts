/** Exclusive opens in the handle table: refusal both ways, the holder named, release on close and on owner loss, holds keyed across identities. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MemweaveError } from '../errors/index.js'
import { HandleTable } from './handles.js'
import { Lifetime } from './lifetime.js'
import type { Leaf, LeafOpenOptions } from './tree-node.js'

function leaf(identity: string, seen: LeafOpenOptions[] = [], holdKey?: string): Leaf {
  return {
    type: 'leaf', identity, lifetime: new Lifetime(identity), ...(holdKey === undefined ? {} : { holdKey }),
    meta: () => ({ sizeBytes: 1n, readable: true, writable: false, rpc: false, content: 'binary' as const }),
    open: async (options) => { seen.push(options ?? {}); return { sizeBytes: 1n } },
  }
}

const busy = (message: RegExp) => (err: unknown): boolean => {
  assert.ok(err instanceof MemweaveError && err.kind === 'busy', String(err))
  assert.match(err.message, message)
  return true
}

test('an exclusive holder refuses other opens, naming itself, until its last reference closes', async () => {
  const table = new HandleTable()
  table.holds.label('conn-1', 'conn-1 (gdbserver, unix socket)')
  const seen: LeafOpenOptions[] = []
  const mem = leaf('proc/mem', seen)
  const first = await table.open('p/mem', mem, 'conn-1', { exclusive: true })
  assert.deepEqual(seen, [{ exclusive: true }], 'the leaf hears the open was exclusive')
  await assert.rejects(table.open('p/mem', mem, 'conn-2'), busy(/'p\/mem' is held exclusively by conn-1 \(gdbserver, unix socket\)/))
  await assert.rejects(table.open('p/mem', mem, 'conn-2', { exclusive: true }), busy(/held exclusively by conn-1/))
  const again = await table.open('p/mem', mem, 'conn-1')
  assert.equal(again.handle, first.handle, 'the holder itself may open it again')
  assert.equal(table.summaries()[0]?.exclusive, 'conn-1')
  await table.close(first.handle, 'conn-1')
  await assert.rejects(table.open('p/mem', mem, 'conn-2'), busy(/held exclusively/), 'one reference is still held')
  await table.close(first.handle, 'conn-1')
  const other = await table.open('p/mem', mem, 'conn-2')
  assert.ok(other.handle > 0)
  assert.equal(table.summaries()[0]?.exclusive, undefined)
})

test('an exclusive open is refused while others hold the leaf, naming them', async () => {
  const table = new HandleTable()
  const mem = leaf('proc/mem')
  await table.open('p/mem', mem, 'conn-7')
  await table.open('p/mem', mem, 'conn-8')
  await assert.rejects(table.open('p/mem', mem, 'conn-9', { exclusive: true }), busy(/open by conn-7, conn-8/))
  // The only holder may turn its own open exclusive.
  const solo = new HandleTable()
  await solo.open('p/mem', mem, 'conn-1')
  await solo.open('p/mem', mem, 'conn-1', { exclusive: true })
  await assert.rejects(solo.open('p/mem', mem, 'conn-2'), busy(/held exclusively by conn-1/))
})

test('an owner that goes away releases its hold', async () => {
  const table = new HandleTable()
  const mem = leaf('proc/mem')
  await table.open('p/mem', mem, 'conn-1', { exclusive: true })
  await table.open('p/mem', mem, 'conn-1')
  assert.equal(await table.dropOwner('conn-1'), 1)
  await table.open('p/mem', mem, 'conn-2', { exclusive: true })
  await assert.rejects(table.open('p/mem', mem, 'conn-1'), busy(/held exclusively by conn-2/))
})

test('leaves with new identities per resolve (remote leaves) exclude each other by their hold key', async () => {
  const table = new HandleTable()
  await table.open('b/p/mem', leaf('peer:b#1:p/mem@1', [], 'peer:b:p/mem'), 'conn-1', { exclusive: true })
  await assert.rejects(table.open('b/p/mem', leaf('peer:b#1:p/mem@2', [], 'peer:b:p/mem'), 'conn-2'), busy(/held exclusively by conn-1/))
  await table.open('b/q/mem', leaf('peer:b#1:q/mem@3', [], 'peer:b:q/mem'), 'conn-2')
})
