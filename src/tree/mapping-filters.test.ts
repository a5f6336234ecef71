import assert from 'node:assert/strict'
import { test } from 'node:test'
import { jsonLeaf } from './leaves.js'
import { Lifetime } from './lifetime.js'
import { MappingRegistry, objectClass } from './mappings.js'
import type { FilterFailure, TreeObject } from './mappings.js'

interface Thing { readonly name: string }

test('a throwing filter hides its mapping and is reported once, with its owner; other mappings still list', async () => {
  const failures: FilterFailure[] = []
  const registry = new MappingRegistry((failure) => failures.push(failure))
  const THING = objectClass<Thing>('thing')
  const lifetime = new Lifetime('thing')
  registry.add({ on: THING, name: 'fine', leaf: (object) => jsonLeaf(`${object.identity}/fine`, lifetime, () => ({})) })
  registry.add({
    on: THING, name: 'broken', owner: 'buggy-plugin',
    appliesTo: (value) => { if (value.name === 'x') throw new Error('filter bug'); return true },
    leaf: (object) => jsonLeaf(`${object.identity}/broken`, lifetime, () => ({})),
  })
  const object: TreeObject<Thing> = { class: THING, value: { name: 'x' }, identity: 'thing:x', lifetime }
  const branch = registry.objectBranch(object)
  for (let i = 0; i < 3; i++) {
    assert.deepEqual((await branch.list()).map((e) => e.name), ['fine'])
    assert.equal(await branch.get('broken'), undefined)
  }
  assert.equal(failures.length, 1)
  assert.deepEqual({ ...failures[0], error: String(failures[0]?.error) }, { objectClass: 'thing', name: 'broken', owner: 'buggy-plugin', error: 'Error: filter bug' })
  // Where the filter does not throw, the mapping applies as before.
  const other = registry.objectBranch({ ...object, value: { name: 'y' }, identity: 'thing:y' })
  assert.deepEqual((await other.list()).map((e) => e.name).sort(), ['broken', 'fine'])
})
