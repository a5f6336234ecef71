import assert from 'node:assert/strict'
import { test } from 'node:test'
import { DaemonBudget } from './server-budget.js'

const MIB = 1 << 20

test('a client held back by its own share does not hold up another client (it waits on its own replies)', () => {
  const budget = new DaemonBudget(10 * MIB)
  assert.equal(budget.tryTake('stalled', 5 * MIB), true)
  assert.equal(budget.tryTake('stalled', MIB), false) // past its half
  let granted = false
  budget.wait('stalled', MIB, () => { granted = true })
  assert.equal(budget.tryTake('other', MIB), true, 'room is free: the other client takes it')
  assert.equal(budget.waitingForRoomBesides('other'), false, 'the stalled client waits on its own share, not for room')
  assert.equal(budget.waitingForRoomBesides('stalled'), false)
  budget.release('stalled', 5 * MIB)
  assert.equal(granted, true)
})

test('a client waiting for free room is not overtaken by a newcomer, and is granted when room frees', () => {
  const budget = new DaemonBudget(10 * MIB)
  assert.equal(budget.tryTake('a', 5 * MIB), true)
  assert.equal(budget.tryTake('b', 4 * MIB), true)
  let granted = false
  budget.wait('c', 2 * MIB, () => { granted = true }) // holds nothing: only the room (1 MiB free) keeps it waiting
  assert.equal(budget.tryTake('d', MIB), false, 'the 1 MiB free is kept for the client that waits for room')
  assert.equal(budget.waitingForRoomBesides('a'), true, 'a holder is in the way of the client waiting for room')
  budget.release('a', MIB)
  assert.equal(granted, true)
  assert.equal(budget.heldBy('c'), 2 * MIB)
})
