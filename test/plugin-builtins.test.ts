/**
 * The built-in plugins end to end on real processes of this host (native
 * OS): environ shows what a child was started with, strings finds a known
 * heap string (streamed: no size up front, rewinds restart), scan finds a
 * pattern in a process and in a connector's memory, bash-history recovers
 * the history of an interactive bash. With the guest dumps built, the same
 * plugins run on the guest's test programs against truth.json.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileConnectorKind } from '../src/connectors/file/index.js'
import { linuxOsKind } from '../src/os/linux/index.js'
import type { ScanResult } from '../src/plugins/index.js'
import { linuxFixtures, NO_FIXTURES_REASON } from './linux-kit.js'
import {
  available, bashWithHistory, buildTarget, callRpc, isKind, pluginNode, readLeaf, readText, spawnTarget,
} from './plugin-kit.js'
import type { Target, TestNode } from './plugin-kit.js'

const HAS_GCC = await available('gcc')
const PATTERN = 'memweave-plugin-needle-5e1f'

function isScanResult(value: unknown): value is ScanResult {
  return typeof value === 'object' && value !== null && 'matches' in value && Array.isArray(value.matches)
}

async function scan(t: TestNode, path: string, request: unknown): Promise<ScanResult> {
  const result = await callRpc(t.client, path, request)
  assert.ok(isScanResult(result), 'scan answers {matches, …}')
  return result
}

describe('built-in plugins on host processes', { skip: HAS_GCC ? false : 'gcc is not installed' }, () => {
  let dir: string
  let program: string
  let t: TestNode
  let target: Target
  const children: { kill(signal: NodeJS.Signals): boolean }[] = []

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mw-plugins-'))
    program = await buildTarget(dir)
    target = await spawnTarget(program, PATTERN, { MW_PLUGIN_VAR: 'set-by-the-test', MW_ODD: 'two\nlines \\ and a backslash' })
    children.push(target.child)
    t = await pluginNode({ connectorKinds: [fileConnectorKind] })
  })

  after(async () => {
    for (const child of children) child.kill('SIGKILL')
    await t.client.disconnect()
    await t.node.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('registers each built-in under its plugin name as owner', () => {
    const owners = new Map(t.node.tree.registry.all().map((m) => [`${m.kind}/${m.name}`, m.owner]))
    assert.equal(owners.get('process/environ'), 'environ')
    assert.equal(owners.get('process/strings'), 'strings')
    assert.equal(owners.get('process/scan'), 'scan')
    assert.equal(owners.get('connector/scan'), 'scan-connector')
    assert.equal(owners.get('process/bash_history'), 'bash-history')
  })

  it('environ shows the variables the child was started with, escaped one per line', async () => {
    const text = await readText(t.client, `os/host/processes/by-pid/${target.pid}/environ`)
    assert.deepEqual(text.split('\n').filter((l) => l !== '').sort(), ['MW_ODD=two\\nlines \\\\ and a backslash', 'MW_PLUGIN_VAR=set-by-the-test'])
  })

  it('strings streams the printable strings, the heap pattern at its address among them', async () => {
    const path = `os/host/processes/by-pid/${target.pid}/strings`
    assert.equal((await t.client.stat(path)).meta?.sizeBytes, undefined, 'a streamed leaf has no size in listings')
    const opened = await t.client.open(path)
    try {
      assert.equal(opened.sizeBytes, undefined)
      // Read in small pieces to cross many chunk seams, then rewind to 0: the stream restarts.
      const parts: Buffer[] = []
      for (let at = 0n; ;) {
        const [piece] = await t.client.read(opened.handle, [{ addr: at, length: 4096 }])
        assert.ok(piece?.ok)
        parts.push(Buffer.from(piece.data))
        at += BigInt(piece.data.length)
        if (piece.data.length < 4096) break
      }
      const text = Buffer.concat(parts).toString('latin1')
      assert.ok(text.split('\n').includes(`0x${target.addr.toString(16)} ${PATTERN}`), 'the heap pattern is listed at its address')
      assert.ok(text.split('\n').filter((l) => l !== '').every((l) => /^0x[0-9a-f]+ [\t\x20-\x7e]{6,}$/.test(l)))
      const [again] = await t.client.read(opened.handle, [{ addr: 0n, length: 64 }])
      assert.ok(again?.ok)
      assert.equal(Buffer.from(again.data).toString('latin1'), text.slice(0, 64))
    } finally {
      await t.client.close(opened.handle)
    }
  })

  it('scan finds the pattern in the process as text, hex and regex; maxResults truncates; a bad request is refused', async () => {
    const path = `os/host/processes/by-pid/${target.pid}/scan`
    const byText = await scan(t, path, { pattern: PATTERN, type: 'text' })
    assert.ok(byText.matches.some((m) => m.address === target.addr && m.length === PATTERN.length), 'the heap copy is found')
    assert.ok(byText.matches.every((m) => Buffer.from(m.context, 'hex').includes(Buffer.from(PATTERN))))
    assert.equal(byText.truncated, false)
    assert.ok(byText.scannedBytes > 0n)
    const byHex = await scan(t, path, Buffer.from(PATTERN).toString('hex'))
    assert.deepEqual(byHex.matches.map((m) => m.address), byText.matches.map((m) => m.address))
    const byRegex = await scan(t, path, { pattern: 'memweave-plugin-needle-[0-9a-f]{4}', type: 'regex', range: { start: target.addr, end: target.addr + 4096n } })
    assert.deepEqual(byRegex.matches.map((m) => m.address), [target.addr])
    const wildcard = await scan(t, path, { pattern: `${Buffer.from('memweave-plugin').toString('hex')}??${Buffer.from('needle').toString('hex')}`, range: { start: target.addr, end: target.addr + 64n } })
    assert.deepEqual(wildcard.matches.map((m) => m.address), [target.addr])
    const one = await scan(t, path, { pattern: PATTERN, type: 'text', maxResults: 1 })
    assert.equal(one.matches.length, 1)
    assert.equal(one.truncated, byText.matches.length > 1)
    await assert.rejects(callRpc(t.client, path, { pattern: 'zz' }), isKind('invalid_argument'))
    await assert.rejects(callRpc(t.client, path, { pattern: '(a+)+$', type: 'regex' }), isKind('invalid_argument'))
    assert.match(await readText(t.client, path), /last: call \d+: failed .*scan:/s, 'reading the rpc leaf shows how the last call ended')
  })

  it("scan finds a pattern in a connector's physical memory, within a range", async () => {
    const image = Buffer.alloc(3 * 1024 * 1024)
    const at = [0x1234, 0x100000 - 5, 0x2abcde]
    for (const offset of at) image.write(PATTERN, offset, 'latin1')
    const file = join(dir, 'raw.img')
    await writeFile(file, image)
    await t.node.newConnector(`raw file:${file}`)
    const all = await scan(t, 'connector/raw/scan', { pattern: PATTERN, type: 'text' })
    assert.deepEqual(all.matches.map((m) => m.address), at.map(BigInt), 'including the one across a 1 MiB chunk seam')
    const ranged = await scan(t, 'connector/raw/scan', { pattern: PATTERN, type: 'text', range: { start: '0x100000', end: '0x300000' } })
    assert.deepEqual(ranged.matches.map((m) => m.address), [BigInt(at[2] ?? 0)])
    assert.equal(ranged.scannedBytes, 0x200000n)
  })

  it('bash_history appears only on bash and recovers its history in order, with times', async (context) => {
    if (!(await available('bash'))) { context.skip('bash is not installed'); return }
    const commands = ['echo memweave-history-one', 'true memweave-history-two', 'history -s "memweave-history-added"']
    const bash = await bashWithHistory(commands)
    children.push(bash)
    assert.ok(bash.pid !== undefined)
    const listed = (await t.client.list(`os/host/processes/by-pid/${bash.pid}`)).map((e) => e.name)
    assert.ok(listed.includes('bash_history'))
    assert.ok(!(await t.client.list(`os/host/processes/by-pid/${target.pid}`)).some((e) => e.name === 'bash_history'))
    const lines = (await readText(t.client, `os/host/processes/by-pid/${bash.pid}/bash_history`)).split('\n').filter((l) => l !== '')
    const entries = lines.map((l) => l.split('\t'))
    const texts = entries.map((e) => e[1])
    const wanted = ['set -o history', 'echo memweave-history-one', 'true memweave-history-two', 'memweave-history-added']
    assert.deepEqual(texts.slice(0, wanted.length), wanted, lines.join('\n'))
    const now = Date.now()
    for (const [when] of entries) {
      assert.match(when ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
      assert.ok(Math.abs(Date.parse(when ?? '') - now) < 3_600_000, 'timestamps are this run')
    }
  })
})

const FIXTURES = linuxFixtures()

/** truth.bashHistory, once the fixture guests run an interactive bash: its pid and the commands fed to it, in order. */
function bashTruth(truth: object): { pid: number; commands: string[] } | undefined {
  const raw = 'bashHistory' in truth ? truth.bashHistory : undefined
  if (typeof raw !== 'object' || raw === null || !('pid' in raw) || !('commands' in raw)) return undefined
  const { pid, commands } = raw
  return typeof pid === 'number' && Array.isArray(commands) && commands.every((c) => typeof c === 'string') ? { pid, commands } : undefined
}

describe('built-in plugins on the guest dumps', { skip: FIXTURES.length === 0 ? NO_FIXTURES_REASON : false }, () => {
  for (const fixture of FIXTURES) {
    describe(fixture.label, () => {
      let t: TestNode
      const truth = fixture.truth

      before(async () => {
        t = await pluginNode({ connectorKinds: [fileConnectorKind], osKinds: [linuxOsKind], hostOs: false })
        await t.node.newConnector(`dump file:${fixture.dump}`)
        await t.node.newOs('guest -c dump linux')
      })

      after(async () => {
        await t.client.disconnect()
        await t.node.close()
      })

      it('environ of each test program equals the guest /proc environ', async () => {
        for (const [pid, environ] of Object.entries(truth.environ)) {
          const expected = Object.entries(environ).map(([k, v]) => `${k}=${v}`).sort()
          const text = await readText(t.client, `os/guest/processes/by-pid/${pid}/environ`)
          assert.deepEqual(text.split('\n').filter((l) => l !== '').sort(), expected, `environ of ${pid}`)
        }
      })

      it('strings and scan find every pattern of every test program at its address', async () => {
        const byPid = new Map<number, typeof truth.patterns[number][]>()
        for (const p of truth.patterns) byPid.set(p.pid, [...(byPid.get(p.pid) ?? []), p])
        for (const [pid, patterns] of byPid) {
          const strings = (await readLeaf(t.client, `os/guest/processes/by-pid/${pid}/strings`)).toString('latin1').split('\n')
          for (const p of patterns) {
            // Printable neighbours (on a stack, say) may extend the string: the pattern is inside a line, at its address.
            const text = Buffer.from(p.bytes, 'hex').toString('latin1')
            const holds = strings.some((line) => {
              const space = line.indexOf(' ')
              const at = line.indexOf(text, space + 1)
              return at > space && BigInt(line.slice(0, space)) + BigInt(at - space - 1) === BigInt(p.address)
            })
            assert.ok(holds, `strings of ${pid} lists the ${p.kind} pattern`)
          }
          const prefix = `MEMWEAVE-PATTERN-`
          const found = await scan(t, `os/guest/processes/by-pid/${pid}/scan`, { pattern: prefix, type: 'text', maxResults: 1000 })
          for (const p of patterns) assert.ok(found.matches.some((m) => `0x${m.address.toString(16)}` === p.address), `scan of ${pid} finds the ${p.kind} pattern`)
        }
      })

      it('bash_history recovers the commands typed into the guest bash, in order', async (context) => {
        const expected = bashTruth(truth)
        if (expected === undefined) { context.skip('this fixture has no interactive bash (truth.json has no bashHistory)'); return }
        const lines = (await readText(t.client, `os/guest/processes/by-pid/${expected.pid}/bash_history`)).split('\n').filter((l) => l !== '')
        assert.deepEqual(lines.map((l) => l.split('\t')[1]).slice(0, expected.commands.length), expected.commands)
      })

      it('scan of the dump connector finds each pattern exactly once in physical memory', async () => {
        const sample = truth.patterns[0]
        assert.ok(sample !== undefined)
        const result = await scan(t, 'connector/dump/scan', { pattern: sample.bytes })
        assert.equal(result.matches.length, 1, 'each pattern occurs once in physical memory')
      })
    })
  }
})
