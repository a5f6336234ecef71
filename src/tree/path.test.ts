/**
 * Paths: '/'-separated names; empty segments and outer slashes are ignored,
 * '.', '..', NUL and over-long paths are refused (never interpreted), and
 * normalizing is idempotent.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { MemweaveError } from '../errors/index.js'
import { MAX_PATH_BYTES, joinPath, normalizePath, splitPath } from './path.js'

const refused = (kind: string, message: RegExp) => (err: unknown): boolean => {
  assert.ok(err instanceof MemweaveError && err.origin === 'tree' && err.kind === kind, String(err))
  assert.match(err.message, message)
  return true
}

test('empty segments and leading or trailing slashes are ignored', () => {
  assert.deepEqual(splitPath('/os//g/processes/'), ['os', 'g', 'processes'])
  assert.deepEqual(splitPath(''), [])
  assert.deepEqual(splitPath('///'), [])
  assert.equal(normalizePath('//connector/dump//mem/'), 'connector/dump/mem')
  assert.equal(joinPath(['a', 'b c', 'd (1)']), 'a/b c/d (1)')
})

test("'.' and '..' are refused, not interpreted", () => {
  for (const path of ['os/./g', 'os/../sys', '..', './x', 'a/..']) {
    assert.throws(() => splitPath(path), refused('invalid_argument', /'\.' and '\.\.' are not allowed/), path)
  }
  assert.deepEqual(splitPath('a/.../b..c/.d'), ['a', '...', 'b..c', '.d'], 'dots inside names are names')
})

test('a NUL byte, a path too long and a non-string are refused', () => {
  assert.throws(() => splitPath('os/g\0/x'), refused('invalid_argument', /contains a NUL byte/))
  assert.throws(() => splitPath('a'.repeat(MAX_PATH_BYTES + 1)), refused('too_large', new RegExp(`longer than ${MAX_PATH_BYTES}`)))
  assert.equal(splitPath('a'.repeat(MAX_PATH_BYTES)).length, 1)
  assert.throws(() => splitPath(42 as unknown as string), refused('invalid_argument', /must be a string/))
})

test('normalizing is idempotent and keeps every name (property)', () => {
  const name = fc.stringMatching(/^[^/\0]{1,12}$/).filter((n) => n !== '.' && n !== '..')
  const slashes = fc.stringMatching(/^\/{1,3}$/)
  fc.assert(fc.property(fc.array(fc.tuple(name, slashes), { maxLength: 10 }), fc.boolean(), (parts, leading) => {
    const path = `${leading ? '/' : ''}${parts.map(([n, s]) => `${n}${s}`).join('')}`
    const normal = normalizePath(path)
    assert.equal(normalizePath(normal), normal)
    assert.deepEqual(splitPath(path), parts.map(([n]) => n))
  }), { seed: 4242, numRuns: 300 })
})
