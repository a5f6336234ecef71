/**
 * The check the tests give assert.rejects / assert.throws: the error is a
 * MemweaveError of this kind, with a message matching the pattern when one
 * is given. It asserts each part, so a failure names what was thrown instead.
 */
import assert from 'node:assert/strict'
import { MemweaveError } from '../src/errors/index.js'

export function isKind(kind: string, pattern?: RegExp): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof MemweaveError, String(err))
    assert.equal(err.kind, kind, err.message)
    if (pattern !== undefined) assert.match(err.message, pattern)
    return true
  }
}
