import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MemweaveError } from '../errors/index.js'
import { scatterResults } from './read-helpers.js'

const internal = (pattern: RegExp) => (err: unknown): boolean => err instanceof MemweaveError && err.origin === 'net' && err.kind === 'internal' && pattern.test(err.message)

test('results go back to their owners; a missing or foreign index is an internal error, not an overwrite of piece 0', () => {
  const results: (string | undefined)[] = [undefined, undefined, undefined, undefined]
  scatterResults(results, [3, 1], ['d', 'b'], 'net', 'read')
  assert.deepEqual(results, [undefined, 'b', undefined, 'd'])
  const untouched = (): (string | undefined)[] => ['keep', undefined]
  const a = untouched()
  assert.throws(() => scatterResults(a, [1], ['x', 'y'], 'net', 'read'), internal(/2 results came back for 1 pieces/))
  const b = untouched()
  assert.throws(() => scatterResults(b, [1, 7], ['x', 'y'], 'net', 'read'), internal(/result 1 has no piece to go to \(index 7 of 2\)/))
  const c = untouched()
  const holey: number[] = [1]
  holey.length = 2
  assert.throws(() => scatterResults(c, holey, ['x', 'y'], 'net', 'read'), internal(/index undefined/))
  assert.equal(c[0], 'keep')
})
