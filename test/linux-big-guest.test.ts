/**
 * The 8 GiB guest of the scale bench (issue 11): a Debian kernel booted
 * with -m 8G, dumped sparse by scripts/fixtures/build-big-dump.sh. That
 * script runs only under `npm run bench`, so this suite skips (saying so)
 * where the dump was never built. Where it exists, the open must be right,
 * not only fast: every process of the guest's own list, the patterns of a
 * test program through its virtual memory, and RAM above 4 GiB.
 */
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { readJson } from '../src/net/index.js'
import type { LocalTreeClient } from '../src/net/index.js'
import { fixtureRoot } from './linux-kit.js'
import type { Truth } from './linux-kit.js'
import { openOsNode, readAt } from './tree-kit.js'
import type { OsNode } from './tree-kit.js'

const DIR = join(fixtureRoot(), 'big-8g')
const BUILT = existsSync(join(DIR, 'complete')) && existsSync(join(DIR, 'truth.json'))
const SKIP = BUILT ? false : `no 8 GiB guest dump in ${DIR} (built by npm run bench: bash scripts/fixtures/build-big-dump.sh)`
const GIB = 1n << 30n

describe('an 8 GiB guest (sparse dump)', { skip: SKIP }, () => {
  let guest: OsNode
  let client: LocalTreeClient
  let truth: Truth

  before(async () => {
    truth = JSON.parse(readFileSync(join(DIR, 'truth.json'), 'utf8')) as Truth
    guest = await openOsNode({ connector: `big file:${join(DIR, 'dump.elf')}`, os: 'g -c big linux' })
    client = guest.client
  })

  after(() => guest?.close())

  it('lists every process of the guest with its parent and name', async () => {
    const entries = await client.list('os/g/processes/by-pid')
    const pids = new Set(entries.map((e) => Number(e.name)))
    for (const p of truth.processes) {
      assert.ok(pids.has(p.pid), `pid ${p.pid} (${p.name}) is listed`)
      const info = await readJson(client, `os/g/processes/by-pid/${p.pid}/info`) as { pid: number; ppid: number; name: string }
      assert.deepEqual([info.pid, info.ppid, info.name], [p.pid, p.ppid, p.name], `pid ${p.pid}`)
    }
  })

  it("reads every pattern of the test programs through their virtual memory", async () => {
    assert.ok(truth.patterns.length > 0)
    for (const pattern of truth.patterns) {
      const bytes = await readAt(client, `os/g/processes/by-pid/${pattern.pid}/mem`, BigInt(pattern.address), pattern.length)
      assert.equal(bytes.toString('hex'), pattern.bytes, `pattern ${pattern.kind} of pid ${pattern.pid} at ${pattern.address}`)
    }
  })

  it('spans RAM above 4 GiB: the mem leaf covers 2 GiB below the PCI hole and 6 GiB above 4 GiB', async () => {
    const opened = await client.open('connector/big/mem')
    await client.close(opened.handle)
    assert.equal(opened.sizeBytes, 10n * GIB)
    const info = await readJson(client, 'connector/big/info') as { ranges?: unknown[] }
    assert.ok(Array.isArray(info.ranges) && info.ranges.length >= 2, JSON.stringify(info.ranges))
    // The last MiB of RAM and the hole below 4 GiB both read (zeros in a fresh guest's untouched RAM and in the gap).
    assert.equal((await readAt(client, 'connector/big/mem', 10n * GIB - (1n << 20n), 1 << 20)).length, 1 << 20)
    assert.ok((await readAt(client, 'connector/big/mem', 3n * GIB, 4096)).every((b) => b === 0))
  })
})
