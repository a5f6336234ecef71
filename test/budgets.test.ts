/**
 * Budgets on a real daemon process over real sockets, measured from /proc:
 * slow readers that ask for big reads and stop reading keep the daemon under
 * its memory budget (their requests wait; replies are not buffered without
 * bound), and are cut off once they sit on their share while others wait.
 * A 10,000-line `connector new` is refused at the cap with a clear error, and
 * removing what was made gives back its file descriptors and memory.
 */
import assert from 'node:assert/strict'
import { open, mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { connectClient } from '../src/net/index.js'
import type { ProtocolClient } from '../src/net/index.js'
import { startDaemon } from './cli-kit.js'
import type { RunningDaemon } from './cli-kit.js'
import { RawPeer } from './protocol-kit.js'
import { waitFor } from './wait-for.js'

const MIB = 1 << 20
/** What a daemon may hold beyond its memory budget (docs/limits.md): idle pooled scratch and the JavaScript heap's slack. */
const OVERHEAD_BYTES = 32 * MIB
let dir = ''
let dump = ''

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mw-budgets-'))
  dump = join(dir, 'sparse.raw')
  const file = await open(dump, 'w')
  await file.truncate(256 * MIB) // sparse: reads cost the daemon memory, not the disk
  await file.close()
})

after(async () => {
  await rm(dir, { recursive: true, force: true })
})

/** The daemon's resident memory, and its kinds (anonymous: heap and buffers; file: code; shmem: mapped data rings). */
interface Resident { readonly rss: number; readonly anon: number; readonly file: number; readonly shmem: number }

async function resident(pid: number): Promise<Resident> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kib = (field: string): number => {
    const kb = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1]
    assert.ok(kb !== undefined, `${field} in /proc status`)
    return Number(kb) * 1024
  }
  return { rss: kib('VmRSS'), anon: kib('RssAnon'), file: kib('RssFile'), shmem: kib('RssShmem') }
}

async function rssBytes(pid: number): Promise<number> {
  return (await resident(pid)).rss
}

async function fdCount(pid: number): Promise<number> {
  return (await readdir(`/proc/${pid}/fd`)).length
}

async function daemon(name: string, args: readonly string[]): Promise<{ daemon: RunningDaemon; url: string; pid: number }> {
  const socket = join(dir, `${name}.sock`)
  const started = await startDaemon(['--listen', `unix:${socket}`, '--json', '--file-root', dir, ...args])
  const pid = started.child.pid
  assert.ok(pid !== undefined)
  return { daemon: started, url: `unix:${socket}`, pid }
}

async function readOnce(client: ProtocolClient, path: string, length: number): Promise<number> {
  const { handle } = await client.open(path)
  try {
    const [piece] = await client.read(handle, [{ addr: 0n, length }])
    assert.ok(piece?.ok)
    return piece.data.length
  } finally {
    await client.close(handle)
  }
}

test('slow readers asking for 256 MiB keep the daemon under a 64 MiB budget, and are cut off while others wait', async (t) => {
  const BUDGET = 64 * MIB
  const { daemon: d, url, pid } = await daemon('slow', [
    '--memory-budget', String(BUDGET), '--limit', 'stallCutoffMs=1500', '--with', `connector d file:${dump}`,
  ])
  const peers: RawPeer[] = []
  const bystander = await connectClient(url)
  try {
    for (let i = 0; i < 3; i++) await readOnce(bystander, 'connector/d/mem', 8 * MIB) // warm up: code paths, pools
    const baseline = await resident(pid)
    for (let i = 0; i < 4; i++) {
      const peer = await RawPeer.connect(url)
      peers.push(peer)
      await peer.hello()
      peer.send({ id: 1, op: 'open', path: 'connector/d/mem' })
      const { handle } = (await peer.reply(1)).result as { handle: number }
      peer.ws.pause() // from here on it reads nothing
      for (const id of [2, 3]) peer.send({ id, op: 'read', handle, pieces: [{ addr: 0n, length: 32 * MIB }] })
    }
    // A client that does read waits for room, and is served once the stalled holders are cut off
    // (1.5 s of not reading while it waits). The daemon's RSS is sampled all along.
    let peak = baseline
    let served = false
    const bystanderRead = readOnce(bystander, 'connector/d/mem', 4 * MIB).finally(() => { served = true })
    while (!served) {
      const now = await resident(pid)
      if (now.rss > peak.rss) peak = now
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    assert.equal(await bystanderRead, 4 * MIB)
    // The daemon holds reply memory exactly while the budget counts it (a reply's buffer is freed once the socket has
    // taken it, or its client is gone); beyond that only a fixed overhead may grow (docs/limits.md).
    const grew = (key: keyof Resident): string => `${Math.round((peak[key] - baseline[key]) / MIB)}`
    t.diagnostic(`RSS grew by ${grew('rss')} MiB (anonymous ${grew('anon')}, file ${grew('file')}, shmem ${grew('shmem')})`)
    assert.ok(peak.rss < baseline.rss + BUDGET + OVERHEAD_BYTES,
      `RSS grew by ${grew('rss')} MiB (anonymous ${grew('anon')}, file ${grew('file')}, shmem ${grew('shmem')}) with a ${BUDGET / MIB} MiB budget and ${OVERHEAD_BYTES / MIB} MiB of fixed overhead allowed`)
    // Only stalled holders in the way were cut off (the others keep what they hold until someone waits).
    assert.match(d.stderr(), /cutting off a client that holds memory budget without reading/)
  } finally {
    for (const p of peers) p.ws.terminate()
    await bystander.disconnect()
    await d.stop()
  }
})

test('a 10,000-line connector write is refused at the cap; removing everything gives back fds and memory', async () => {
  const { daemon: d, url, pid } = await daemon('caps', ['--log-level', 'warn', '--limit', 'maxConnectors=1000', '--limit', 'maxObjectsPerClient=100000'])
  const client = await connectClient(url)
  const write = async (leaf: string, text: string): Promise<string | undefined> => {
    const { handle } = await client.open(leaf)
    try {
      const [result] = await client.write(handle, [{ addr: 0n, data: Buffer.from(text) }])
      assert.ok(result !== undefined)
      return result.ok ? undefined : result.error.message
    } finally {
      await client.close(handle)
    }
  }
  try {
    // Warm up with one create/remove cycle so the baseline includes loaded code.
    assert.equal(await write('connector/new', `w file:${dump}\n`), undefined)
    assert.equal(await write('connector/rm', 'w\n'), undefined)
    const baseRss = await rssBytes(pid)
    const baseFds = await fdCount(pid)
    const names = Array.from({ length: 10_000 }, (_, i) => `c${i}`)
    const refused = await write('connector/new', names.map((n) => `${n} file:${dump}`).join('\n'))
    assert.ok(refused !== undefined, 'the write is refused past the cap')
    assert.match(refused, /the daemon holds the most connectors it may \(1000, the cap; .*--limit maxConnectors=N\)/)
    assert.ok(refused.length < 400, refused)
    assert.equal((await client.list('connector')).filter((e) => /^c\d+$/.test(e.name)).length, 1000)
    assert.ok(await fdCount(pid) >= baseFds + 1000, 'each file connector holds its dump open')

    assert.equal(await write('connector/rm', names.slice(0, 1000).join('\n')), undefined)
    assert.equal((await client.list('connector')).filter((e) => /^c\d+$/.test(e.name)).length, 0)
    const fdsAfter = await fdCount(pid)
    assert.ok(fdsAfter <= baseFds + 2, `fds ${baseFds} → ${fdsAfter}`)
    // Memory comes back once the collector has run; poll rather than sleep.
    let rss = await rssBytes(pid)
    await waitFor(`RSS back near ${Math.round(baseRss / MIB)} MiB`, () => rss < baseRss + 48 * MIB, { limitMs: 20_000 }).catch(() => undefined)
    for (let i = 0; i < 40 && rss >= baseRss + 48 * MIB; i++) {
      await new Promise((resolve) => setTimeout(resolve, 250))
      rss = await rssBytes(pid)
    }
    assert.ok(rss < baseRss + 48 * MIB, `RSS ${Math.round(baseRss / MIB)} → ${Math.round(rss / MIB)} MiB after removal`)
  } finally {
    await client.disconnect()
    await d.stop()
  }
})
