import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MemweaveError } from '../../errors/index.js'
import { formatSize, parseBigNumber, parseLength, parseOffset, parsePid, sizeFromJson } from './numbers.js'

test('numbers accept decimal, 0x hex and binary suffixes', () => {
  assert.equal(parseOffset('4096'), 4096n)
  assert.equal(parseOffset('0x1000'), 4096n)
  assert.equal(parseOffset('0XfFfF'), 0xffffn)
  assert.equal(parseOffset('4k'), 4096n)
  assert.equal(parseOffset('1MiB'), 1048576n)
  assert.equal(parseOffset('2g'), 2n << 30n)
  assert.equal(parseOffset('0xffff_ffff'), 0xffffffffn)
  assert.equal(parseOffset('0xffffffffffffffff'), (1n << 64n) - 1n)
})

test('bad numbers are usage errors naming the value', () => {
  for (const bad of ['', '-1', '12x', '0x', 'abc', '1.5', '0x10000000000000000']) {
    assert.throws(() => parseBigNumber(bad, 'offset'), (err: unknown) =>
      err instanceof MemweaveError && err.origin === 'cli' && err.kind === 'invalid_argument' && err.message.includes(`'${bad}'`))
  }
})

test('lengths over the cap are refused with the cap in the message', () => {
  assert.equal(parseLength('0x100', 1024), 256)
  assert.throws(() => parseLength('2k', 1024, 'use cat'), /more than the 1 KiB .*use cat/)
})

test('pids are plain decimal numbers', () => {
  assert.equal(parsePid('42'), 42)
  assert.throws(() => parsePid('0x2a'), /not a process id/)
  assert.throws(() => parsePid('99999999999'), /not a process id/)
})

test('sizes format in binary units and come back from JSON forms', () => {
  assert.equal(formatSize(0), '0 B')
  assert.equal(formatSize(1023), '1023 B')
  assert.equal(formatSize(1536), '1.5 KiB')
  assert.equal(formatSize(1n << 48n), '256 TiB')
  assert.equal(formatSize(undefined), '?')
  assert.equal(sizeFromJson(4096), 4096n)
  assert.equal(sizeFromJson('0x1000000000'), 0x1000000000n)
  assert.equal(sizeFromJson('x'), undefined)
  assert.equal(sizeFromJson(-1), undefined)
})
