import assert from 'node:assert/strict'
import { test } from 'node:test'
import { BrowserTickets } from './browser-tickets.js'

test('a ticket is traded once', () => {
  const tickets = new BrowserTickets()
  const { ticket } = tickets.issue({ role: 'admin' })
  assert.match(ticket, /^[0-9a-f]{64}$/)
  assert.deepEqual(tickets.redeem(ticket), { role: 'admin' })
  assert.throws(() => tickets.redeem(ticket), /not valid/)
})

test('an expired ticket is refused, and says so', () => {
  let now = 1000
  const tickets = new BrowserTickets({ lifetimeMs: 100, now: () => now })
  const { ticket } = tickets.issue()
  now += 101
  assert.throws(() => tickets.redeem(ticket), /expired|not valid/)
})

test('unknown tickets are refused without naming them, and the store is bounded', () => {
  const tickets = new BrowserTickets({ maxTickets: 3 })
  const issued = [1, 2, 3, 4].map(() => tickets.issue().ticket)
  assert.equal(tickets.size, 3)
  assert.throws(() => tickets.redeem(issued[0] ?? ''), (err: Error) => !err.message.includes(issued[0] ?? 'x'))
  assert.doesNotThrow(() => tickets.redeem(issued[3] ?? ''))
})
