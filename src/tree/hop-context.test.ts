/**
 * The hop chain carrier: a request's `via` and a change event's nodes are
 * seen by everything the request (or delivery) runs, across awaits and
 * timers, by nothing outside it, and not by what outsideRequests starts.
 */
import assert from 'node:assert/strict'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { test } from 'node:test'
import { currentEventVia, currentVia, outsideRequests, runWithEventVia, runWithVia } from './hop-context.js'
import { currentClient, runAsClient } from './request-client.js'

test('outside a request the chain is empty', () => {
  assert.deepEqual(currentVia(), [])
  assert.deepEqual(currentEventVia(), [])
  assert.deepEqual(runWithVia(undefined, () => currentVia()), [], 'a local client carries no via')
})

test('a request sees its own chain across awaits, and concurrent requests keep theirs apart', async () => {
  const served = (via: readonly string[]): Promise<readonly string[][]> => runWithVia(via, async () => {
    const seen: (readonly string[])[] = [currentVia()]
    await nextTurn()
    seen.push(currentVia())
    await new Promise((resolve) => setTimeout(resolve, 0))
    seen.push(currentVia())
    return seen.map((v) => [...v])
  })
  const [a, b] = await Promise.all([served(['node-a']), served(['node-b', 'node-c'])])
  assert.deepEqual(a, [['node-a'], ['node-a'], ['node-a']])
  assert.deepEqual(b, [['node-b', 'node-c'], ['node-b', 'node-c'], ['node-b', 'node-c']])
  assert.deepEqual(currentVia(), [], 'nothing leaks out')
})

test('an inner request replaces the chain for its own extent only', () => {
  runWithVia(['a'], () => {
    assert.deepEqual(runWithVia(['a', 'b'], () => currentVia()), ['a', 'b'])
    assert.deepEqual(currentVia(), ['a'])
  })
})

test('event chains are separate from request chains', () => {
  runWithVia(['req'], () => runWithEventVia(['peer-1'], () => {
    assert.deepEqual(currentVia(), ['req'])
    assert.deepEqual(currentEventVia(), ['peer-1'])
  }))
})

test('outsideRequests starts work with no chain and no client, whatever request started it', async () => {
  const started = runAsClient('conn-7', () => runWithVia(['n1'], () => runWithEventVia(['n2'], () =>
    outsideRequests(async () => {
      await nextTurn()
      return { via: currentVia(), eventVia: currentEventVia(), client: currentClient() }
    }))))
  assert.deepEqual(await started, { via: [], eventVia: [], client: undefined })
})
