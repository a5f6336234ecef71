/**
 * The registration path on a tree with the OS mappings and a test OS: the
 * environ plugin only where the OS reads environments (same output as the
 * OS tree's former leaf), a defined plugin's leaves only on objects its
 * filter admits, branches, rpc progress text, handler errors with context,
 * and duplicate names refused.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MemweaveError } from '../src/errors/index.js'
import { OS_MAPPINGS, OS_OBJECT } from '../src/os/index.js'
import { TestOs } from '../src/os/os-test-kit.js'
import { BUILTIN_PLUGIN_MAPPINGS, definePlugin, InProcessBackend, inProcessBackends, pluginMappings } from '../src/plugins/index.js'
import { staticBranch, Tree } from '../src/tree/index.js'

function setup(os: TestOs, extra: ReturnType<typeof pluginMappings> = []): Tree {
  const tree = new Tree({ allowWrite: false })
  for (const mapping of [...OS_MAPPINGS.filter((m) => m.name !== 'environ'), ...BUILTIN_PLUGIN_MAPPINGS, ...extra]) tree.registry.add(mapping)
  const osBranch = tree.registry.objectBranch({ class: OS_OBJECT, value: { name: 't', kind: 'test', os, openMs: 1, connectorName: undefined }, identity: 'os:t#1', lifetime: os.lifetime })
  tree.setRoot(staticBranch({ os: staticBranch({ t: osBranch }) }))
  return tree
}

async function text(tree: Tree, path: string): Promise<string> {
  const opened = await tree.open(path, 'test')
  try {
    const [result] = await tree.read(opened.handle, [{ addr: 0n, length: 1 << 20 }], 'test')
    if (result === undefined || !result.ok) throw result?.error ?? new Error('no result')
    return Buffer.from(result.data).toString()
  } finally {
    await tree.close(opened.handle, 'test')
  }
}

async function names(tree: Tree, path: string): Promise<string[]> {
  return (await tree.list(path)).map((e) => e.name)
}

test('environ appears only where the OS reads environments, one escaped variable per line', async () => {
  const os = new TestOs()
  os.add({ pid: 5, name: 'app', environ: { HOME: '/root', MULTI: 'a\nb', SLASH: 'c\\d' } })
  os.add({ pid: 6, name: 'noenv' })
  const tree = setup(os)
  assert.ok((await names(tree, 'os/t/processes/by-pid/5')).includes('environ'))
  assert.ok(!(await names(tree, 'os/t/processes/by-pid/6')).includes('environ'))
  assert.equal(await text(tree, 'os/t/processes/by-pid/5/environ'), 'HOME=/root\nMULTI=a\\nb\nSLASH=c\\\\d\n')
})

const demo = definePlugin({
  name: 'demo', version: '1', attachesTo: 'process', filter: { name: '/^web-/' },
  leaves: {
    'pid.txt': { read: (ctx) => `${ctx.object.kind === 'process' ? ctx.object.pid : '?'}\n` },
    fails: { read: () => { throw new MemweaveError('plugin', 'unsupported', 'this leaf always fails') } },
    work: {
      description: 'does work',
      rpc: async (ctx, request) => { ctx.progress(1, 'all done'); return { echoed: request } },
    },
  },
  branches: { kids: { list: () => ['a', 'b'], read: (_ctx, child) => `kid ${child}\n` } },
})

test("a plugin's leaves appear only on objects its filter admits, with their owner", async () => {
  const os = new TestOs()
  os.add({ pid: 10, name: 'web-1' })
  os.add({ pid: 11, name: 'db' })
  const tree = setup(os, pluginMappings(new InProcessBackend(demo)))
  assert.deepEqual((await names(tree, 'os/t/processes/by-pid/10')).filter((n) => ['pid.txt', 'fails', 'work', 'kids'].includes(n)).sort(), ['fails', 'kids', 'pid.txt', 'work'])
  assert.ok(!(await names(tree, 'os/t/processes/by-pid/11')).includes('pid.txt'))
  assert.equal(await text(tree, 'os/t/processes/by-pid/10/pid.txt'), '10\n')
  assert.ok(tree.registry.all().some((m) => m.name === 'pid.txt' && m.owner === 'demo'))
  assert.deepEqual(await names(tree, 'os/t/processes/by-pid/10/kids'), ['a', 'b'])
  assert.equal(await text(tree, 'os/t/processes/by-pid/10/kids/b'), 'kid b\n')
  await assert.rejects(tree.stat('os/t/processes/by-pid/10/kids/c'), (err: unknown) => err instanceof MemweaveError && err.kind === 'not_found')
  await assert.rejects(text(tree, 'os/t/processes/by-pid/10/fails'), /this leaf always fails/)
})

test('an rpc leaf answers calls and shows its description and the last outcome when read', async () => {
  const os = new TestOs()
  os.add({ pid: 10, name: 'web-1' })
  const tree = setup(os, pluginMappings(new InProcessBackend(demo)))
  const path = 'os/t/processes/by-pid/10/work'
  assert.equal((await tree.stat(path)).meta?.rpc, true)
  assert.match(await text(tree, path), /^does work\n\nno calls running\n$/)
  const opened = await tree.open(path, 'test')
  assert.deepEqual(await tree.rpc(opened.handle, 'hi', 'test'), { echoed: 'hi' })
  await tree.close(opened.handle, 'test')
  assert.match(await text(tree, path), /last: call \d+: done in \d+ ms/)
})

test('duplicate plugin names and taken leaf names are refused', () => {
  assert.throws(() => inProcessBackends([demo, demo]), /two built-in plugins are named 'demo'/)
  const tree = setup(new TestOs())
  const clash = definePlugin({ name: 'clash', version: '1', attachesTo: 'process', leaves: { maps: { read: () => '' } } })
  assert.throws(() => { for (const m of pluginMappings(new InProcessBackend(clash))) tree.registry.add(m) }, /'maps' is already registered on process/)
})
