import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseCreateLine } from '../../tree/index.js'
import { createLine, creationOrder, parseWith } from './control-lines.js'
import type { ObjectSpec } from './control-lines.js'

test('create lines round-trip through the tree parser, spaces and commas included', () => {
  const line = createLine('dump', undefined, 'file:/data/my vm.elf,strict=true')
  const parsed = parseCreateLine(line)
  assert.equal(parsed.name, 'dump')
  assert.equal(parsed.kind, 'file')
  assert.equal(parsed.args.target, '/data/my vm.elf')
  assert.equal(parsed.args.options.get('strict'), 'true')
  const escaped = parseCreateLine(createLine('x', 'guest', 'file:/a\\,b "q".raw'))
  assert.equal(escaped.on, 'guest')
  assert.equal(escaped.args.target, '/a,b "q".raw')
})

test('--with lines split into what, name, chain and kind', () => {
  assert.deepEqual(parseWith('connector dump file:/data/vm.elf'), {
    what: 'connector', name: 'dump', on: undefined, kind: 'file', args: '/data/vm.elf', source: "--with 'connector dump file:/data/vm.elf'",
  })
  const os = parseWith('os guest -c dump linux')
  assert.deepEqual([os.what, os.name, os.on, os.kind, os.args], ['os', 'guest', 'dump', 'linux', ''])
  const spaced = parseWith('connector d file:/my dumps/a b.raw,strict=true')
  assert.deepEqual([spaced.name, spaced.kind, spaced.args], ['d', 'file', '/my dumps/a b.raw,strict=true'])
  for (const bad of ['dump file:/x', 'connector dump', 'os g -c', 'os g -c dump linux extra', 'os -c x linux']) {
    assert.throws(() => parseWith(bad), /--with/, bad)
  }
})

test('objects are created after what they are created on', () => {
  const spec = (what: 'connector' | 'os', name: string, on?: string): ObjectSpec => ({ what, name, on, kind: 'k', args: '', source: name })
  const order = creationOrder([spec('connector', 'inner', 'guest'), spec('os', 'guest', 'dump'), spec('connector', 'dump'), spec('os', 'far', 'peer.x')])
  assert.deepEqual(order.map((s) => s.name), ['dump', 'guest', 'inner', 'far'])
  // A missing target keeps the given order; the node names what is missing.
  assert.deepEqual(creationOrder([spec('os', 'g', 'nothing'), spec('connector', 'c')]).map((s) => s.name), ['g', 'c'])
})
