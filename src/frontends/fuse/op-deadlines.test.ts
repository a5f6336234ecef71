import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { OpDeadlines } from './op-deadlines.js'

describe('OpDeadlines', () => {
  it('expires an operation still pending after the timeout, once, and stops sweeping when nothing is left', async () => {
    const deadlines = new OpDeadlines(20)
    let expired = 0
    await new Promise<void>((resolve) => deadlines.add(() => { expired++; resolve() }))
    assert.equal(expired, 1)
    assert.equal(deadlines.size, 0)
    deadlines.close()
  })

  it('never expires an operation that finished, even when a neighbour with the same deadline does', async () => {
    const deadlines = new OpDeadlines(20)
    let finishedExpired = false
    const finished = deadlines.add(() => { finishedExpired = true })
    const neighbour = new Promise<void>((resolve) => deadlines.add(resolve))
    deadlines.done(finished)
    await neighbour // swept at or after the finished one's deadline
    assert.equal(finishedExpired, false)
    deadlines.close()
  })

  it('sweeps a few times per timeout, at most once a second', () => {
    assert.equal(new OpDeadlines(120_000).sweepMs, 1000)
    assert.equal(new OpDeadlines(800).sweepMs, 100)
    assert.equal(new OpDeadlines(8).sweepMs, 5)
  })

  it('close drops what is pending', () => {
    const deadlines = new OpDeadlines(50)
    deadlines.add(() => assert.fail('closed deadlines do not expire'))
    deadlines.close()
    assert.equal(deadlines.size, 0)
  })
})
