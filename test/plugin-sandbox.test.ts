/**
 * User plugins in the real sandbox (a separate node process as nobody, in
 * an empty network namespace, under the permission model), on real host
 * processes: a plugin appears only under the processes its filter admits;
 * a TypeScript plugin streams, answers an rpc with progress, lists a
 * branch and hears about processes appearing and going; sys/plugins loads,
 * lists and removes; bad plugins are refused with the reason; a crashed
 * plugin's leaves say so, its old handles go stale, and it comes back.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { MemweaveError } from '../src/errors/index.js'
import { loadUserPlugin, pluginHostFor } from '../src/plugins/index.js'
import type { PluginSummary } from '../src/plugins/index.js'
import {
  available, buildTarget, callRpc, isKind, leafError, LogLines, pluginNode, readText, SANDBOX_SKIP, spawnTarget, waitFor,
} from './plugin-kit.js'
import type { Target, TestNode } from './plugin-kit.js'

const HAS_GCC = await available('gcc')
const EXAMPLES = resolve('examples/plugins')
const PATTERN = 'memweave-sandbox-needle-9b2c'

function isSummaryList(value: unknown): value is PluginSummary[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'object' && v !== null && 'name' in v)
}

async function pluginList(t: TestNode): Promise<PluginSummary[]> {
  const list: unknown = JSON.parse(await readText(t.client, 'sys/plugins/list'))
  assert.ok(isSummaryList(list))
  return list
}

async function writeControl(t: TestNode, path: string, line: string): Promise<void> {
  const opened = await t.client.open(path)
  try {
    const [result] = await t.client.write(opened.handle, [{ addr: 0n, data: Buffer.from(`${line}\n`) }])
    if (result !== undefined && !result.ok) throw result.error
  } finally {
    await t.client.close(opened.handle)
  }
}

describe('user plugins in the sandbox', { skip: SANDBOX_SKIP || (HAS_GCC ? false : 'gcc is not installed') }, () => {
  let dir: string
  let program: string
  let t: TestNode
  let target: Target
  const log = new LogLines()
  const children: { kill(signal: NodeJS.Signals): boolean }[] = []

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mw-sandbox-'))
    program = await buildTarget(dir)
    target = await spawnTarget(program, PATTERN)
    children.push(target.child)
    t = await pluginNode({ log: log.logger() })
  })

  after(async () => {
    for (const child of children) child.kill('SIGKILL')
    await t.client.disconnect()
    await t.node.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('a plugin filtered on one process name appears only under processes of that name', async () => {
    const sleeper = spawn('sleep', ['1000'])
    children.push(sleeper)
    const summary = await loadUserPlugin(t.node, join(EXAMPLES, 'hello.mjs'))
    assert.equal(summary.name, 'hello')
    assert.equal(summary.state, 'running')
    const sleepLeaves = (await t.client.list(`os/host/processes/by-pid/${sleeper.pid}`)).map((e) => e.name)
    assert.ok(sleepLeaves.includes('hello.txt') && sleepLeaves.includes('first-bytes'))
    const targetLeaves = (await t.client.list(`os/host/processes/by-pid/${target.pid}`)).map((e) => e.name)
    assert.ok(!targetLeaves.includes('hello.txt'), 'not under a process of another name')
    await assert.rejects(t.client.stat(`os/host/processes/by-pid/${target.pid}/hello.txt`), isKind('not_found'))
    assert.equal(await readText(t.client, `os/host/processes/by-pid/${sleeper.pid}/hello.txt`), `hello from sleep (pid ${sleeper.pid} on host)\n`)
    // Its first readable mapping is the ELF header of sleep.
    assert.match(await readText(t.client, `os/host/processes/by-pid/${sleeper.pid}/first-bytes`), /^7f454c46/)
    assert.ok(t.node.tree.registry.all().some((m) => m.kind === 'process' && m.name === 'hello.txt' && m.owner === 'hello'))
    const listed = (await pluginList(t)).find((p) => p.name === 'hello')
    assert.ok(listed !== undefined && listed.state === 'running' && listed.builtin === false && typeof listed.pid === 'number')
  })

  it('a TypeScript plugin streams a leaf, answers an rpc with progress, lists a branch and hears events', async () => {
    await loadUserPlugin(t.node, join(EXAMPLES, 'heap-grep.ts'))
    const base = `os/host/processes/by-pid/${target.pid}`
    const hex = await readText(t.client, `${base}/heap.hex`)
    const line = hex.split('\n').find((l) => l.startsWith((target.addr & ~0xfffn).toString(16)))
    assert.ok(line !== undefined, 'the heap page holding the pattern is dumped')
    assert.ok(line.includes(Buffer.from(PATTERN).toString('hex')))
    const found = await callRpc(t.client, `${base}/grep`, PATTERN)
    assert.ok(Array.isArray(found) && found.includes(target.addr), 'grep finds the heap copy')
    assert.match(await readText(t.client, `${base}/grep`), /answers the heap addresses.*last: call \d+: done/s)
    const maps = (await t.client.list(`${base}/map-entries`)).map((e) => e.name)
    assert.ok(maps.length > 3 && maps[0] === '0')
    assert.match(await readText(t.client, `${base}/map-entries/0`), /"path":"[^"]*mw-plugtarget"/)
    await assert.rejects(t.client.stat(`${base}/map-entries/999999`), isKind('not_found'))
    // Events: the target was there before (appeared on the first poll); a new one appears, then goes.
    const second = await spawnTarget(program, 'second')
    await waitFor('an appeared event for the new process', () => log.messages().some((m) => m.includes(`event appeared mw-plugtarget ${second.pid}`)))
    second.child.kill('SIGKILL')
    await waitFor('a gone event', () => log.messages().some((m) => m.includes(`event gone mw-plugtarget ${second.pid}`)))
    assert.ok(log.messages().some((m) => m.includes(`event appeared mw-plugtarget ${target.pid}`)))
  })

  it('the progress a running rpc reports shows when its leaf is read', async () => {
    const file = join(dir, 'slow.mjs')
    await writeFile(file, [
      'let release',
      "export const plugin = { name: 'slow', version: '1', attachesTo: 'os', leaves: {",
      "  hold: { description: 'holds until released', rpc: async (ctx) => { ctx.progress(0.5, 'halfway'); await new Promise((r) => { release = r }); return 'held' } },",
      "  release: { rpc: () => { release?.(); return 'released' } },",
      '} }',
    ].join('\n'))
    await loadUserPlugin(t.node, file, { callTimeoutMs: 60_000 })
    const held = callRpc(t.client, 'os/host/hold', null)
    await waitFor('progress to show', async () => /call \d+: 50\.0% after \d+ ms \(halfway\)/.test(await readText(t.client, 'os/host/hold')))
    assert.match(await readText(t.client, 'os/host/hold'), /^holds until released\n\nrunning:\n/)
    assert.equal(await callRpc(t.client, 'os/host/release', null), 'released')
    assert.equal(await held, 'held')
    assert.match(await readText(t.client, 'os/host/hold'), /no calls running\nlast: call \d+: done/)
    await pluginHostFor(t.node).remove('slow')
  })

  it('sys/plugins loads, lists and removes plugins; a built-in cannot be removed', async () => {
    const file = join(dir, 'tiny.mjs')
    await writeFile(file, "export const plugin = { name: 'tiny', version: '0.1.0', attachesTo: 'os', leaves: { 'tiny.txt': { read: (ctx) => `os ${ctx.object.name}\\n` } } }\n")
    await writeControl(t, 'sys/plugins/load', `${file} timeout_ms=3000`)
    assert.equal(await readText(t.client, 'os/host/tiny.txt'), 'os host\n')
    const list = await pluginList(t)
    assert.ok(list.some((p) => p.name === 'tiny' && p.state === 'running'))
    assert.ok(list.some((p) => p.name === 'strings' && p.builtin))
    assert.match(await readText(t.client, 'sys/plugins/load'), /ok: .*tiny.*plugin 'tiny' 0\.1\.0 loaded: tiny\.txt on os objects/)
    await writeControl(t, 'sys/plugins/rm', 'tiny')
    assert.ok(!(await t.client.list('os/host')).some((e) => e.name === 'tiny.txt'))
    assert.ok(!(await pluginList(t)).some((p) => p.name === 'tiny'))
    await assert.rejects(writeControl(t, 'sys/plugins/rm', 'strings'), isKind('permission'))
    await assert.rejects(writeControl(t, 'sys/plugins/rm', 'no-such-plugin'), isKind('not_found'))
  })

  it('refuses bad plugins with the reason and leaves nothing behind', async () => {
    const cases: [string, string, string, RegExp][] = [
      ['syntax.mjs', 'export const plugin = {', 'invalid_argument', /does not build|failed to load/],
      ['imports.mjs', "import x from './other.mjs'\nexport const plugin = x", 'invalid_argument', /import of '\.\/other\.mjs' refused/],
      ['noleaves.mjs', "export const plugin = { name: 'empty', version: '1', attachesTo: 'process' }", 'invalid_argument', /defines no leaves/],
      ['badfilter.mjs', "export const plugin = { name: 'bf', version: '1', attachesTo: 'process', filter: { nmae: 'x' }, leaves: { a: { read: () => '' } } }", 'invalid_argument', /'nmae' is not a filter field/],
      ['redos.mjs', "export const plugin = { name: 'rd', version: '1', attachesTo: 'process', filter: { name: '/(a+)+$/' }, leaves: { a: { read: () => '' } } }", 'invalid_argument', /nested quantifiers/],
      ['clash.mjs', "export const plugin = { name: 'clash', version: '1', attachesTo: 'process', leaves: { maps: { read: () => '' } } }", 'already_exists', /cannot be registered: a mapping named 'maps'/],
      ['dup.mjs', "export const plugin = { name: 'strings', version: '1', attachesTo: 'os', leaves: { other: { read: () => '' } } }", 'already_exists', /named 'strings' is already loaded/],
      ['throws.mjs', "throw new Error('refusing to load')", 'invalid_argument', /failed to load: refusing to load/],
    ]
    const before = t.node.tree.registry.all().length
    for (const [name, source, kind, message] of cases) {
      const file = join(dir, name)
      await writeFile(file, source)
      await assert.rejects(loadUserPlugin(t.node, file), (err: unknown) => {
        assert.ok(err instanceof MemweaveError, name)
        assert.equal(err.kind, kind, `${name}: ${err.message}`)
        assert.match(err.message, message, name)
        return true
      })
    }
    assert.equal(t.node.tree.registry.all().length, before)
    await assert.rejects(loadUserPlugin(t.node, join(dir, 'missing.mjs')), isKind('not_found'))
  })

  it('writes memory only when the manifest asks and the daemon allows; leaf writes reach the plugin', async () => {
    const file = join(dir, 'poker.mjs')
    await writeFile(file, [
      'let note = "empty\\n"',
      "export const plugin = { name: 'poker', version: '1', attachesTo: 'process', filter: { name: 'mw-plugtarget' }, needsWrite: true, leaves: {",
      '  poke: { rpc: async (ctx, request) => {',
      '    const [result] = await ctx.write([{ addr: BigInt(request.addr), data: Buffer.from(request.text) }])',
      '    if (!result.ok) throw Object.assign(new Error(result.error.message), { kind: result.error.kind })',
      "    return 'poked'",
      '  } },',
      '  note: { read: () => note, write: (ctx, data) => { note = Buffer.from(data).toString() } },',
      '} }',
    ].join('\n'))
    const request = { addr: target.addr, text: 'POKED' }
    // This daemon does not allow writes: the plugin asked, but the grant says no.
    await loadUserPlugin(t.node, file)
    await assert.rejects(callRpc(t.client, `os/host/processes/by-pid/${target.pid}/poke`, request), (err: unknown) => {
      assert.ok(err instanceof MemweaveError)
      assert.equal(err.kind, 'permission')
      assert.match(err.message, /writes refused/)
      return true
    })
    assert.equal(pluginHostFor(t.node).plugin('poker')?.summary().writesAllowed, false)
    await pluginHostFor(t.node).remove('poker')

    const writable = await pluginNode({ allowWrite: true })
    try {
      await loadUserPlugin(writable.node, file)
      const base = `os/host/processes/by-pid/${target.pid}`
      assert.equal(await callRpc(writable.client, `${base}/poke`, request), 'poked')
      const mem = await writable.client.open(`${base}/mem`)
      const [read] = await writable.client.read(mem.handle, [{ addr: target.addr, length: PATTERN.length }])
      await writable.client.close(mem.handle)
      assert.ok(read?.ok)
      assert.equal(Buffer.from(read.data).toString(), `POKED${PATTERN.slice(5)}`)
      const note = await writable.client.open(`${base}/note`)
      const [written] = await writable.client.write(note.handle, [{ addr: 0n, data: Buffer.from('hello note\n') }])
      await writable.client.close(note.handle)
      assert.ok(written?.ok)
      assert.equal(await readText(writable.client, `${base}/note`), 'hello note\n')
    } finally {
      await writable.client.disconnect()
      await writable.node.close()
    }
  })

  it("a crashed plugin's leaves say so, its handles go stale, and it is restarted", async () => {
    const sleeper = spawn('sleep', ['1000'])
    children.push(sleeper)
    const file = join(dir, 'crashy.mjs')
    await writeFile(file, [
      "export const plugin = { name: 'crashy', version: '1', attachesTo: 'process', filter: { name: 'sleep' }, leaves: {",
      "  'live.txt': { read: () => 'alive\\n' },",
      "  'crash.txt': { read: () => { setTimeout(() => process.exit(3), 10); return new Promise(() => {}) } },",
      '} }',
    ].join('\n'))
    await loadUserPlugin(t.node, file, { host: {} })
    const base = `os/host/processes/by-pid/${sleeper.pid}`
    const held = await t.client.open(`${base}/live.txt`)
    const crash = await leafError(t.client, `${base}/crash.txt`)
    assert.equal(crash.kind, 'disconnected')
    assert.match(crash.message, /plugin 'crashy' stopped while handling 'open': crashed \(exit code 3\)/)
    const down = await leafError(t.client, `${base}/live.txt`)
    assert.match(down.message, /plugin 'crashy' is not running: crashed \(exit code 3\), restarting (in \d+ s|now)/)
    await assert.rejects(t.client.read(held.handle, [{ addr: 0n, length: 10 }]), isKind('stale'))
    await t.client.close(held.handle)
    assert.ok(log.lines.some((l) => l['plugin'] === 'crashy' && String(l['msg']).includes('restarting in')))
    await waitFor('the plugin to be restarted', () => pluginHostFor(t.node).plugin('crashy')?.summary().state === 'running')
    assert.equal(await readText(t.client, `${base}/live.txt`), 'alive\n')
    const summary = pluginHostFor(t.node).plugin('crashy')?.summary()
    assert.equal(summary?.restarts, 1)
    assert.match(summary?.lastExit ?? '', /crashed \(exit code 3\)/)
  })
})
