/**
 * Scale (issue 11, item 6): an 8 GiB guest dump (built sparse by
 * scripts/fixtures/build-big-dump.sh, only here, never by npm test) served
 * by a daemon, against the 512 MiB fixture dump of the same kernel in the
 * same run: OS open through os/new, `memweave ps` (checked against the
 * guest's own process list), `memweave cat` of the whole mem leaf into dd
 * beside `cat` of the dump file into the same dd, and the daemon's RSS
 * sampled every 50 ms throughout. Nothing should grow with the dump's size.
 */
import { execFile, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import { connectClient } from '../src/net/index.js'
import type { ProtocolClient } from '../src/net/index.js'
import { linuxFixtures } from '../test/linux-kit.js'
import { emit, row } from './bench-report.js'
import type { BenchRow } from './bench-report.js'

const run = promisify(execFile)
const MIB = 1024 * 1024
const CACHE = process.env['MEMWEAVE_CACHE'] ?? join(process.cwd(), '.cache', 'fixtures')
const BIG = join(CACHE, 'big-8g')

interface Truth { processes: { pid: number; name: string }[] }
interface Sampler { stop(): number[]; readonly samples: number[] }

/** VmRSS of a process in MiB, every `everyMs`, until stopped. */
function sampleRss(pid: number, everyMs = 50): Sampler {
  const samples: number[] = []
  const take = (): void => {
    try {
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
      if (match?.[1] !== undefined) samples.push(Number(match[1]) / 1024)
    } catch { /* the daemon is gone: nothing to sample */ }
  }
  take()
  const timer = setInterval(take, everyMs)
  return { samples, stop: () => { clearInterval(timer); take(); return samples } }
}

function startDaemon(dump: string, socket: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['bin/memweave.js', 'serve', '--log-level', 'warn', '--listen', `unix:${socket}`, '--file-root', dirname(dump), '--with', `connector d file:${dump}`], { stdio: ['ignore', 'pipe', 'inherit'] })
  return new Promise((resolve, reject) => {
    let text = ''
    child.stdout.on('data', (chunk: Buffer) => { text += chunk.toString(); if (/listening on/.test(text)) resolve(child) })
    child.once('exit', (code) => reject(new Error(`daemon exited with ${code}`)))
  })
}

async function writeLeaf(client: ProtocolClient, path: string, text: string): Promise<void> {
  const { handle } = await client.open(path)
  try {
    const [r] = await client.write(handle, [{ addr: 0n, data: new TextEncoder().encode(text) }])
    if (r?.ok !== true) throw new Error(`write to ${path} failed: ${r?.ok === false ? r.error.message : '?'}`)
  } finally {
    await client.close(handle)
  }
}

async function readJsonLeaf(client: ProtocolClient, path: string): Promise<Record<string, unknown>> {
  const { handle, sizeBytes } = await client.open(path)
  try {
    const [r] = await client.read(handle, [{ addr: 0n, length: Number(sizeBytes ?? 1n << 20n) }])
    if (r?.ok !== true) throw new Error(`read of ${path} failed`)
    return JSON.parse(Buffer.from(r.data).toString('utf8')) as Record<string, unknown>
  } finally {
    await client.close(handle)
  }
}

async function timedShell(command: string): Promise<number> {
  const started = performance.now()
  await run('sh', ['-c', command], { maxBuffer: 64 << 20 })
  return performance.now() - started
}

interface Measured {
  openMs: number
  phases: unknown
  psMs: number
  psMatches: string
  memBytes: number
  catMs: number
  fileCatMs: number
  fileBytes: number
  rssIdle: number
  rssAfterOpen: number
  rssMax: number
  rssStreamMax: number
}

/** One dump through one daemon: open, ps, the whole mem leaf; RSS all along. */
async function measure(dump: string, truthFile: string, dir: string, tag: string): Promise<Measured> {
  const socket = join(dir, `${tag}.sock`)
  const daemon = await startDaemon(dump, socket)
  const rss = sampleRss(daemon.pid ?? 0)
  try {
    const client = await connectClient(`unix:${socket}`)
    await new Promise((resolve) => setTimeout(resolve, 200))
    const rssIdle = rss.samples[rss.samples.length - 1] ?? 0
    let started = performance.now()
    await writeLeaf(client, 'os/new', 'g -c d linux')
    const openMs = performance.now() - started
    const info = await readJsonLeaf(client, 'os/g/info')
    const rssAfterOpen = Math.max(...rss.samples)
    await client.disconnect()

    // ps as a user runs it (CLI startup included; the same for both dumps).
    started = performance.now()
    const { stdout } = await run(process.execPath, ['bin/memweave.js', '--daemon', `unix:${socket}`, '--json', 'ps', 'g'], { maxBuffer: 16 << 20 })
    const psMs = performance.now() - started
    const listed = JSON.parse(stdout) as { pid: number; name: string }[]
    const truth = (JSON.parse(readFileSync(truthFile, 'utf8')) as Truth).processes
    const found = truth.filter((t) => listed.some((p) => p.pid === t.pid && p.name === t.name)).length
    if (found !== truth.length) throw new Error(`${tag}: ps found ${found} of the guest's ${truth.length} processes`)

    const stat = JSON.parse((await run(process.execPath, ['bin/memweave.js', '--daemon', `unix:${socket}`, '--json', 'stat', 'connector/d/mem'])).stdout) as { sizeBytes?: number | string; size?: number | string }
    const memBytes = Number(stat.sizeBytes ?? stat.size ?? 0)
    const fileBytes = Number((await run('stat', ['-c', '%s', dump])).stdout.trim())
    await timedShell(`cat ${dump} >/dev/null`) // the page cache holds the file (and its holes) for both rows below
    const fileCatMs = await timedShell(`cat ${dump} | dd of=/dev/null bs=1M 2>/dev/null`)
    const before = rss.samples.length
    const catMs = await timedShell(`node bin/memweave.js --daemon unix:${socket} cat connector/d/mem | dd of=/dev/null bs=1M 2>/dev/null`)
    const rssStreamMax = Math.max(...rss.samples.slice(before))
    return { openMs, phases: info['timingsMs'], psMs, psMatches: `${found}/${truth.length}`, memBytes, catMs, fileCatMs, fileBytes, rssIdle, rssAfterOpen, rssMax: Math.max(...rss.stop()), rssStreamMax }
  } finally {
    rss.stop()
    daemon.kill('SIGTERM')
    await new Promise((resolve) => daemon.once('exit', resolve))
  }
}

await run('bash', ['scripts/fixtures/build-big-dump.sh'], { maxBuffer: 16 << 20 })
const small = linuxFixtures().find((f) => f.variant === 'plain' && f.release === JSON.parse(readFileSync(join(BIG, 'build.json'), 'utf8')).release)
  ?? linuxFixtures().find((f) => f.variant === 'plain')
if (small === undefined) throw new Error('no guest fixtures: run bash scripts/fixtures/build-guests.sh')
const dir = mkdtempSync(join(tmpdir(), 'mw-scale-'))
process.env['MEMWEAVE_STATE_DIR'] = join(dir, 'state')
const rows: BenchRow[] = []
const notes: string[] = []
try {
  const s = await measure(small.dump, join(dirname(small.dump), 'truth.json'), dir, 'small')
  const b = await measure(join(BIG, 'dump.elf'), join(BIG, 'truth.json'), dir, 'big')
  const mbs = (bytes: number, ms: number): number => bytes / 1e6 / (ms / 1000)
  const build = JSON.parse(readFileSync(join(BIG, 'build.json'), 'utf8')) as { fileBytes: number; diskBytes: number }
  rows.push(row('OS open of the 8 GiB guest (os/new through the daemon)', b.openMs, 'ms', { what: 'the same on the 512 MiB guest', value: s.openMs }, '< 2000 ms'))
  rows.push(row(`memweave ps on the 8 GiB guest (CLI, ${b.psMatches} of the guest's processes found)`, b.psMs, 'ms', { what: 'the same on the 512 MiB guest', value: s.psMs }))
  rows.push(row(`memweave cat of the whole mem leaf (${(b.memBytes / 2 ** 30).toFixed(1)} GiB) piped into dd`, mbs(b.memBytes, b.catMs), 'MB/s', { what: 'cat of the dump file piped into dd', value: mbs(b.fileBytes, b.fileCatMs) }))
  rows.push(row('the same on the 512 MiB guest', mbs(s.memBytes, s.catMs), 'MB/s', { what: 'cat of the dump file piped into dd', value: mbs(s.fileBytes, s.fileCatMs) }))
  rows.push(row('daemon RSS, highest sample, 8 GiB guest (open, ps, whole mem leaf)', b.rssMax, 'MiB', { what: 'the same on the 512 MiB guest', value: s.rssMax }, '< 300 MiB'))
  rows.push(row('daemon RSS, highest sample while streaming the mem leaf, 8 GiB guest', b.rssStreamMax, 'MiB', { what: 'the same on the 512 MiB guest', value: s.rssStreamMax }, '< 300 MiB'))
  rows.push(row('daemon RSS after the OS open, 8 GiB guest', b.rssAfterOpen, 'MiB', { what: 'the same on the 512 MiB guest', value: s.rssAfterOpen }))
  rows.push(row('daemon RSS before the OS open, 8 GiB guest', b.rssIdle, 'MiB', { what: 'the same on the 512 MiB guest', value: s.rssIdle }))
  notes.push(`8 GiB dump: ${(build.fileBytes / 2 ** 30).toFixed(2)} GiB long, ${(build.diskBytes / MIB).toFixed(0)} MiB on disk (sparse: QMP dump-guest-memory through a FIFO into dd conv=sparse); the guest's RAM above 2 GiB sits above 4 GiB in physical space, so the mem leaf is longer than the RAM (the gap reads as zeros)`)
  notes.push(`open phases (ms): 8 GiB ${JSON.stringify(b.phases)}; 512 MiB ${JSON.stringify(s.phases)}`)
  notes.push(`ps runs the CLI (node startup included) and is checked against the guest's own list (truth.json): 8 GiB ${b.psMatches}, 512 MiB ${s.psMatches}`)
  notes.push(`load average ${(await import('node:os')).loadavg().map((l) => l.toFixed(1)).join(' ')} on 2 cores at the end (shared machine); RSS sampled every 50 ms from /proc/PID/status`)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
emit({ bench: 'scale', description: 'An 8 GiB guest dump (sparse, Debian kernel, TCG) beside the 512 MiB fixture of the same kernel, through a daemon: OS open, ps, the whole mem leaf, daemon RSS throughout.', rows, notes })
