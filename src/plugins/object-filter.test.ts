import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MemweaveError } from '../errors/index.js'
import { checkFilter, compileFilter, unsafeRegexReason } from './object-filter.js'
import type { ObjectDescriptor } from './plugin-api.js'

const sshd: ObjectDescriptor = { kind: 'process', osName: 'host', osKind: 'native', pid: 10, ppid: 1, name: 'sshd', startTime: 5n, features: ['environ'] }
const bash: ObjectDescriptor = { ...sshd, pid: 11, name: 'bash', features: [] }
const dump: ObjectDescriptor = { kind: 'connector', name: 'dump', connectorKind: 'file', features: [] }

function refused(pattern: RegExp) {
  return (err: unknown): boolean => err instanceof MemweaveError && err.kind === 'invalid_argument' && pattern.test(err.message)
}

test('string fields match exactly; /…/ is a regular expression; all fields must match', () => {
  assert.equal(compileFilter({ name: 'sshd' })(sshd), true)
  assert.equal(compileFilter({ name: 'ssh' })(sshd), false)
  assert.equal(compileFilter({ name: '/^(ssh|ba)/' })(bash), true)
  assert.equal(compileFilter({ name: '/^SSHD$/i' })(sshd), true)
  assert.equal(compileFilter({ name: 'sshd', osKind: 'linux' })(sshd), false)
  assert.equal(compileFilter({ features: ['environ'] })(sshd), true)
  assert.equal(compileFilter({ features: ['environ'] })(bash), false)
  assert.equal(compileFilter({ connectorKind: 'file' })(dump), true)
  assert.equal(compileFilter({ osKind: 'native' })(dump), false, 'a connector has no OS kind')
  assert.equal(compileFilter({})(dump), true)
})

test('filters are checked: unknown or inapplicable fields, bad values and unsafe patterns are refused', () => {
  assert.deepEqual(checkFilter({ name: 'x', features: ['environ'] }, 'process'), { name: 'x', features: ['environ'] })
  assert.deepEqual(checkFilter(undefined, 'os'), {})
  assert.throws(() => checkFilter({ nmae: 'x' }, 'process'), refused(/'nmae' is not a filter field for process/))
  assert.throws(() => checkFilter({ connectorKind: 'file' }, 'process'), refused(/'connectorKind' is not a filter field/))
  assert.throws(() => checkFilter({ osKind: 'native' }, 'connector'), refused(/not a filter field for connector/))
  assert.throws(() => checkFilter({ name: 3 }, 'process'), refused(/non-empty string/))
  assert.throws(() => checkFilter({ features: ['telepathy'] }, 'process'), refused(/features must be/))
  assert.throws(() => checkFilter({ name: '/[/' }, 'process'), refused(/not a valid regular expression/))
  assert.throws(() => checkFilter({ name: '/(a+)+$/' }, 'process'), refused(/nested quantifiers/))
  assert.throws(() => checkFilter({ name: '/(a)\\1/' }, 'process'), refused(/backreference/))
  assert.throws(() => checkFilter({ name: `/${'a'.repeat(300)}/` }, 'process'), refused(/exceeds/))
  assert.throws(() => checkFilter([], 'process'), refused(/must be an object/))
})

test('only exponential patterns are called unsafe', () => {
  for (const safe of ['abc', 'a+b*', '(ab)+', '(a|b)c*', '[(+)]+', '\\(a+\\)+', '(?:x)y+']) assert.equal(unsafeRegexReason(safe), undefined, safe)
  for (const unsafe of ['(a+)+', '(a*)*b', '((ab)+c)+', '(a{2,})*', '(.*a){10}']) assert.ok(unsafeRegexReason(unsafe) !== undefined, unsafe)
})
