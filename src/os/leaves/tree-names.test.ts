import assert from 'node:assert/strict'
import { test } from 'node:test'
import { virtAddr } from '../../mem/index.js'
import { parsePidNameSegment, parsePidSegment, pidNameSegment, segmentForName, uniqueSegments } from './tree-names.js'

test('names become safe path segments', () => {
  assert.equal(segmentForName('kworker/0:1'), 'kworker\u22150:1')
  assert.equal(segmentForName('a/b/c'), 'a\u2215b\u2215c')
  assert.equal(segmentForName('bash'), 'bash')
  assert.equal(segmentForName('with space'), 'with space')
  assert.equal(segmentForName('.'), '\u2024')
  assert.equal(segmentForName('..'), '\u2024\u2024')
  assert.equal(segmentForName('...'), '...')
  assert.equal(segmentForName(''), '_')
  for (const name of ['kworker/0:1', '.', '..', '', '/']) {
    const segment = segmentForName(name)
    assert.ok(!segment.includes('/') && segment !== '.' && segment !== '..' && segment.length > 0)
  }
})

test('by-pid and by-pid-name segments parse strictly', () => {
  assert.equal(parsePidSegment('1234'), 1234)
  assert.equal(parsePidSegment('0'), 0)
  for (const bad of ['01', '-1', '1.5', '', 'abc', '12 ', '99999999999']) assert.equal(parsePidSegment(bad), undefined, bad)
  assert.equal(pidNameSegment('kworker/0:1', 7), 'kworker\u22150:1 (7)')
  assert.deepEqual(parsePidNameSegment('my (odd) name (42)'), { name: 'my (odd) name', pid: 42 })
  assert.deepEqual(parsePidNameSegment(pidNameSegment('sshd', 9)), { name: 'sshd', pid: 9 })
  assert.equal(parsePidNameSegment('sshd'), undefined)
  assert.equal(parsePidNameSegment('sshd (x)'), undefined)
})

test('modules sharing a name: the lowest base keeps it, others get @BASE', () => {
  const mods = [
    { name: 'libc.so.6', base: virtAddr(0x7f0000000000n) },
    { name: 'libc.so.6', base: virtAddr(0x500000n) },
    { name: 'ld.so', base: virtAddr(0x600000n) },
  ]
  assert.deepEqual([...uniqueSegments(mods)].map(([name, m]) => [name, m.base]), [
    ['libc.so.6', 0x500000n], ['ld.so', 0x600000n], ['libc.so.6@0x7f0000000000', 0x7f0000000000n],
  ])
})
