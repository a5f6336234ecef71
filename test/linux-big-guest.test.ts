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
import { fileConnectorKind } from '../src/connectors/file/index.js'
import { LocalTreeClient } from '../src/net/local-client.js'
import { BUILTIN_MAPPINGS, MemweaveNode } from '../src/node/index.js'
import { linuxOsKind } from '../src/os/linux/index.js'
import { fixtureRoot, silentLog } from './linux-kit.js'
import type { Truth } from './linux-kit.js'

const DIR = join(fixtureRoot(), 'big-8g')
const BUILT = existsSync(join(DIR, 'complete')) && existsSync(join(DIR, 'truth.json'))
const SKIP = BUILT ? false : `no 8 GiB guest dump in ${DIR} (built by npm run bench: bash scripts/fixtures/build-big-dump.sh)`
const GIB = 1n << 30n

describe('an 8 GiB guest (sparse dump)', { skip: SKIP }, () => {
  let node: MemweaveNode
  let client: LocalTreeClient
  let truth: Truth

  async function read(path: string, addr: bigint, length: number): Promise<Buffer> {
    const opened = await client.open(path)
    try {
      const [result] = await client.read(opened.handle, [{ addr, length }])
      assert.ok(result?.ok, `reading ${length} bytes at 0x${addr.toString(16)} of ${path}: ${result?.ok === false ? result.error.message : ''}`)
      return Buffer.from(result.data)
    } finally {
      await client.close(opened.handle)
    }
  }

  before(async () => {
    truth = JSON.parse(readFileSync(join(DIR, 'truth.json'), 'utf8')) as Truth
    node = new MemweaveNode({ allowWrite: false, log: silentLog, connectorKinds: [fileConnectorKind], osKinds: [linuxOsKind], mappings: BUILTIN_MAPPINGS })
    await node.newConnector(`big file:${join(DIR, 'dump.elf')}`)
    await node.newOs('g -c big linux')
    client = new LocalTreeClient(node.tree)
  })

  after(async () => {
    await client?.disconnect()
    await node?.close()
  })

  it('lists every process of the guest with its parent and name', async () => {
    const entries = await client.list('os/g/processes/by-pid')
    const pids = new Set(entries.map((e) => Number(e.name)))
    for (const p of truth.processes) {
      assert.ok(pids.has(p.pid), `pid ${p.pid} (${p.name}) is listed`)
      const info = JSON.parse((await read(`os/g/processes/by-pid/${p.pid}/info`, 0n, 1 << 16)).toString().replace(/\0+$/, '')) as { pid: number; ppid: number; name: string }
      assert.deepEqual([info.pid, info.ppid, info.name], [p.pid, p.ppid, p.name], `pid ${p.pid}`)
    }
  })

  it("reads every pattern of the test programs through their virtual memory", async () => {
    assert.ok(truth.patterns.length > 0)
    for (const pattern of truth.patterns) {
      const bytes = await read(`os/g/processes/by-pid/${pattern.pid}/mem`, BigInt(pattern.address), pattern.length)
      assert.equal(bytes.toString('hex'), pattern.bytes, `pattern ${pattern.kind} of pid ${pattern.pid} at ${pattern.address}`)
    }
  })

  it('spans RAM above 4 GiB: the mem leaf covers 2 GiB below the PCI hole and 6 GiB above 4 GiB', async () => {
    const opened = await client.open('connector/big/mem')
    await client.close(opened.handle)
    assert.equal(opened.sizeBytes, 10n * GIB)
    const info = JSON.parse((await read('connector/big/info', 0n, 1 << 20)).toString().replace(/\0+$/, '')) as { ranges?: unknown[] }
    assert.ok(Array.isArray(info.ranges) && info.ranges.length >= 2, JSON.stringify(info.ranges))
    // The last MiB of RAM and the hole below 4 GiB both read (zeros in a fresh guest's untouched RAM and in the gap).
    assert.equal((await read('connector/big/mem', 10n * GIB - (1n << 20n), 1 << 20)).length, 1 << 20)
    assert.ok((await read('connector/big/mem', 3n * GIB, 4096)).every((b) => b === 0))
  })
})
