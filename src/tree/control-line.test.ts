import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MemweaveError } from '../errors/index.js'
import { parseCreateLine, parseRemoveLine } from './control-line.js'
import { ArgReader, parseKindArgs } from './kind-args.js'
import { splitPath } from './path.js'

function refused(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof MemweaveError && err.kind === 'invalid_argument' && pattern.test(err.message))
}

test('create lines parse name, chain target, kind and args', () => {
  const line = parseCreateLine('dump file:/data/vm.elf,strict=true')
  assert.equal(line.name, 'dump')
  assert.equal(line.on, undefined)
  assert.equal(line.kind, 'file')
  assert.equal(line.args.target, '/data/vm.elf')
  assert.equal(line.args.options.get('strict'), 'true')

  const chained = parseCreateLine('  g   -c  b.dump   linux:kaslr=auto ')
  assert.equal(chained.name, 'g')
  assert.equal(chained.on, 'b.dump')
  assert.equal(chained.kind, 'linux')
  assert.equal(chained.args.target, undefined)
  assert.equal(chained.args.options.get('kaslr'), 'auto')

  const bare = parseCreateLine('h native')
  assert.equal(bare.kind, 'native')
  assert.equal(bare.args.raw, '')
  assert.equal(bare.args.options.size, 0)

  const quoted = parseCreateLine('x file:"/tmp/my dump.raw"')
  assert.equal(quoted.args.target, '/tmp/my dump.raw')
})

test('create lines refuse every bad name', () => {
  refused(() => parseCreateLine('a/b file:/x'), /must not contain '\/'/)
  refused(() => parseCreateLine('a.b file:/x'), /must not contain '\.'/)
  refused(() => parseCreateLine('new file:/x'), /reserved/)
  refused(() => parseCreateLine('rm file:/x'), /reserved/)
  refused(() => parseCreateLine('a$b file:/x'), /may only hold/)
  refused(() => parseCreateLine(`${'n'.repeat(65)} file:/x`), /longer than 64/)
  refused(() => parseCreateLine(''), /empty line/)
})

test('create lines refuse bad structure, kinds and args', () => {
  refused(() => parseCreateLine('dump'), /missing KIND/)
  refused(() => parseCreateLine('dump -c'), /'-c' needs a name/)
  refused(() => parseCreateLine('dump -c a/b file'), /must not contain '\/'/)
  refused(() => parseCreateLine('dump file:/x extra'), /unexpected 'extra'/)
  refused(() => parseCreateLine('dump File:/x'), /not a valid kind/)
  refused(() => parseCreateLine('dump file:/x,/y'), /must be key=value/)
  refused(() => parseCreateLine('dump file:/x,a=1,a=2'), /given twice/)
  refused(() => parseCreateLine('dump file:/x,,a=1'), /empty argument/)
})

test('remove lines take a name and an optional force flag', () => {
  assert.deepEqual(parseRemoveLine('dump'), { name: 'dump', force: false })
  assert.deepEqual(parseRemoveLine('-f dump'), { name: 'dump', force: true })
  assert.deepEqual(parseRemoveLine('dump --force'), { name: 'dump', force: true })
  refused(() => parseRemoveLine('a b'), /expected 'NAME \[-f\]'/)
  refused(() => parseRemoveLine(''), /expected/)
  refused(() => parseRemoveLine('x.y'), /must not contain '\.'/)
})

test('kind args: escaped commas, typed reads, unknown keys refused', () => {
  const args = parseKindArgs('/a\\,b,size=0x1000,strict=yes')
  assert.equal(args.target, '/a,b')
  const reader = new ArgReader(args, 'file', ['size', 'strict'])
  assert.equal(reader.int('size'), 4096)
  assert.equal(reader.bigint('size'), 4096n)
  assert.equal(reader.bool('strict', false), true)
  assert.equal(reader.bool('missing', false), false)
  refused(() => new ArgReader(parseKindArgs('x,typo=1'), 'file', ['size']), /unknown argument 'typo' \(known: size\)/)
  refused(() => new ArgReader(parseKindArgs('size=ten'), 'file', ['size']).int('size'), /must be an integer/)
  refused(() => new ArgReader(parseKindArgs('strict=maybe'), 'file', ['strict']).bool('strict', false), /true or false/)
})

test('paths split on slashes and refuse dot segments and NUL', () => {
  assert.deepEqual(splitPath('/os//g/processes/'), ['os', 'g', 'processes'])
  assert.deepEqual(splitPath(''), [])
  assert.deepEqual(splitPath('os/g/by-pid-name/bash (42)'), ['os', 'g', 'by-pid-name', 'bash (42)'])
  refused(() => splitPath('os/../sys'), /'\.' and '\.\.' are not allowed/)
  refused(() => splitPath('a\0b'), /NUL/)
  assert.throws(() => splitPath('a'.repeat(5000)), (err: unknown) => err instanceof MemweaveError && err.kind === 'too_large')
})
