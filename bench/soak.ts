/**
 * `npm run soak -- --seconds N` (or --minutes N): a daemon under a mixed load
 * for a bounded time, on loopback only, with faults injected all along:
 *
 *   clients (unix with data ring, unix inline, TCP with the auto token)
 *     open/read/close on a dump, list the tree, read through a peer,
 *     ps / maps / scan on a real guest dump (a Linux fixture, os g),
 *     ps / maps on a live QEMU guest whose processes come and go (os live; --no-live skips it),
 *     read a user plugin's leaf while it keeps crashing,
 *     and are killed (socket cut) at random and replaced
 *   a peer daemon (mounted as b/) killed with SIGKILL and restarted every --peer-every s (20)
 *   a dump replaced on disk under its connector every 15 s, the connector then re-created
 *   the plugin made to crash every 30 s (restarted by its supervisor with backoff)
 *
 * It samples the daemon's RSS and fd count from /proc every second, times
 * every operation, and counts errors by kind and place. Only the kinds a
 * fault explains are allowed (stale, disconnected; not_found/timeout where
 * things go away: the peer, the replaced dump, the live guest's processes,
 * the plugin); anything else fails the run, and so does RSS or fds still
 * rising after warm-up (a trend test, soak-trend.ts). The report is printed
 * as one JSON line (and stored with --out FILE).
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { MemweaveError } from '../src/errors/index.js'
import { connectClient } from '../src/net/index.js'
import { loadavg } from 'node:os'
import { machine, row } from './bench-report.js'
import type { BenchReport } from './bench-report.js'
import { median } from './bench-stats.js'
import type { ProtocolClient } from '../src/net/index.js'
import { bootLiveGuest, fixtureRoot, mapsOf, psOne, scanOne, soakFixture, writeCrashyPlugin } from './soak-guests.js'
import type { LiveGuest } from './soak-guests.js'
import { trendOf } from './soak-trend.js'
import type { Trend } from './soak-trend.js'

const REPO = fileURLToPath(new URL('..', import.meta.url))
const MIB = 1 << 20
const DUMP_BYTES = 16 * MIB

export interface SoakReport {
  readonly seconds: number
  readonly clients: number
  readonly ops: number
  readonly opsPerSecond: number
  readonly latencyMs: { p50: number; p90: number; p99: number; max: number }
  readonly errors: Record<string, number>
  readonly unexpected: Record<string, number>
  readonly faults: { clientsKilled: number; peerRestarts: number; dumpReplacements: number; pluginCrashes: number }
  /** Operations by kind (what each client did). */
  readonly opsByKind: Record<string, number>
  /** Seconds of setup before the clock started (daemons, the guest dump, the live guest's boot). */
  readonly setupSeconds: number
  readonly live: boolean
  readonly samples: Array<{ t: number; rssMiB: number; fds: number }>
  /** Trend after warm-up (the first third): Mann–Kendall Z, Theil–Sen slope and the growth it implies. */
  readonly growth: { rssMiB: Trend; fds: Trend }
  readonly ok: boolean
  readonly why: string[]
}

interface Daemon { child: ChildProcess; addresses: string[] }

async function startDaemon(args: readonly string[], env: NodeJS.ProcessEnv): Promise<Daemon> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/frontends/cli/main.ts', 'serve', '--log-level', 'warn', ...args], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  const addresses = await new Promise<string[]>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const found = [...out.matchAll(/^listening on (\S+)$/gm)].map((m) => m[1] ?? '')
      if (found.length === args.filter((a) => a === '--listen').length) resolve(found)
    })
    child.once('exit', (code) => reject(new Error(`daemon exited (${code}) before listening`)))
  })
  return { child, addresses }
}

async function stopDaemon(d: Daemon, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (d.child.exitCode !== null || d.child.signalCode !== null) return
  const exited = once(d.child, 'exit')
  d.child.kill(signal)
  await exited
}

async function sample(pid: number): Promise<{ rssMiB: number; fds: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kb = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1] ?? 0)
  return { rssMiB: Math.round(kb / 1024), fds: (await readdir(`/proc/${pid}/fd`)).length }
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0
  return Math.round((sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0) * 100) / 100
}

type Where = 'local' | 'replaced' | 'peer' | 'guest' | 'live' | 'plugin'

/** Error kinds a fault explains, by where the operation went (the dump guest never changes: there only a lost connection is). */
function expected(kind: string, where: Where): boolean {
  if (kind === 'stale' || kind === 'disconnected' || kind === 'cancelled') return true
  if ((where === 'replaced' || where === 'peer' || where === 'live' || where === 'plugin') && (kind === 'not_found' || kind === 'timeout')) return true
  return false
}

export interface SoakOptions { seconds: number; clients: number; seed?: number; live: boolean; peerEverySeconds: number }

export async function soak(options: SoakOptions): Promise<SoakReport> {
  const setupStarted = Date.now()
  const dir = await mkdtemp(join(tmpdir(), 'mw-soak-'))
  // The daemon writes its TCP auto token there, and this process's clients read it from there.
  process.env['MEMWEAVE_STATE_DIR'] = join(dir, 'state')
  const env = { ...process.env }
  let rng = (options.seed ?? 14) >>> 0
  const random = (): number => { rng = (rng * 1664525 + 1013904223) >>> 0; return rng / 2 ** 32 }
  const pattern = new Uint8Array(DUMP_BYTES).map((_, i) => (i * 7) & 0xff)
  await writeFile(join(dir, 'dump.raw'), pattern)
  await writeFile(join(dir, 'moving.raw'), pattern)
  await writeFile(join(dir, 'peer.raw'), pattern)
  await mkdir(join(dir, 'plugins'))
  const pluginFile = await writeCrashyPlugin(dir)
  const fixture = soakFixture()
  if (fixture === undefined) throw new Error('no Linux guest fixture (run: bash scripts/fixtures/build-guests.sh)')
  const userPids = fixture.truth.processes.filter((p) => !p.kernelThread).map((p) => p.pid)
  // Booting takes a while (TCG): it runs while the daemons start.
  const booting: Promise<LiveGuest | undefined> = options.live ? bootLiveGuest() : Promise.resolve(undefined)
  const peerSocket = `unix:${join(dir, 'b.sock')}`
  const peerArgs = ['--listen', peerSocket, '--file-root', dir, '--with', `connector d file:${join(dir, 'peer.raw')}`]
  let peer = await startDaemon(peerArgs, env)
  const main = await startDaemon([
    '--listen', `unix:${join(dir, 'a.sock')}`, '--listen', 'ws://127.0.0.1:0', '--file-root', dir, '--connect', `b=${peerSocket}`,
    '--with', `connector d file:${join(dir, 'dump.raw')}`, '--with', `connector moving file:${join(dir, 'moving.raw')}`,
    '--file-root', fixtureRoot(fixture), '--with', `connector g file:${fixture.dump}`, '--with', 'os g -c g linux', '--plugin-root', join(dir, 'plugins'),
  ], env)
  const [unixUrl = '', tcpUrl = ''] = main.addresses
  const pid = main.child.pid ?? 0

  const admin = await connectClient(unixUrl)
  const control = async (leaf: string, line: string): Promise<void> => {
    const { handle } = await admin.open(leaf)
    try {
      const [result] = await admin.write(handle, [{ addr: 0n, data: Buffer.from(`${line}\n`) }])
      if (result !== undefined && !result.ok) throw result.error
    } finally {
      await admin.close(handle)
    }
  }
  await control('sys/plugins/load', pluginFile)
  const live = await booting
  if (live !== undefined) {
    await control('connector/new', `vm qemu:name=${live.run.name}`)
    await control('os/new', 'live -c vm linux')
  }

  const errors = new Map<string, number>()
  const unexpected = new Map<string, number>()
  const opsByKind = new Map<string, number>()
  const latencies: number[] = []
  const faults = { clientsKilled: 0, peerRestarts: 0, dumpReplacements: 0, pluginCrashes: 0 }
  const samples: Array<{ t: number; rssMiB: number; fds: number }> = []
  const started = Date.now()
  const setupSeconds = Math.round((started - setupStarted) / 1000)
  const deadline = started + options.seconds * 1000
  let ops = 0
  const note = (err: unknown, where: Where): void => {
    const kind = err instanceof MemweaveError ? err.kind : 'other'
    const key = `${where}:${kind}`
    errors.set(key, (errors.get(key) ?? 0) + 1)
    if (!expected(kind, where)) {
      unexpected.set(key, (unexpected.get(key) ?? 0) + 1)
      if ((unexpected.get(key) ?? 0) <= 3) process.stderr.write(`[soak] unexpected ${key}: ${err instanceof Error ? err.message : String(err)}\n`)
    }
  }
  const timed = async (where: Where, what: string, job: () => Promise<void>): Promise<void> => {
    const t0 = performance.now()
    opsByKind.set(what, (opsByKind.get(what) ?? 0) + 1)
    try {
      await job()
      latencies.push(performance.now() - t0)
    } catch (err) {
      note(err, where)
    }
    ops++
  }
  const readSome = async (client: ProtocolClient, path: string): Promise<void> => {
    const { handle } = await client.open(path)
    try {
      const length = 4096 << Math.floor(random() * 8) // 4 KiB .. 512 KiB
      const addr = BigInt(Math.floor(random() * (DUMP_BYTES - length)))
      const [piece] = await client.read(handle, [{ addr, length }])
      if (piece === undefined) throw new MemweaveError('cli', 'internal', 'no result')
      if (!piece.ok) throw piece.error
      if (piece.data[0] !== Number((addr * 7n) & 0xffn)) throw new MemweaveError('cli', 'internal', `wrong bytes at ${addr}`)
    } finally {
      await client.close(handle).catch(() => undefined) // a stale or lost handle: the read already counted its error
    }
  }
  const readText = async (client: ProtocolClient, path: string): Promise<string> => {
    const { handle } = await client.open(path)
    try {
      const [piece] = await client.read(handle, [{ addr: 0n, length: 4096 }])
      if (piece === undefined) throw new MemweaveError('cli', 'internal', 'no result')
      if (!piece.ok) throw piece.error
      return Buffer.from(piece.data).toString('utf8')
    } finally {
      await client.close(handle).catch(() => undefined)
    }
  }
  const pick = <T>(values: readonly T[]): T | undefined => values[Math.floor(random() * values.length)]
  const livePids = async (client: ProtocolClient): Promise<number[]> => (await client.list('os/live/processes/by-pid')).map((e) => Number(e.name))

  /** One operation of a client, by weight; without a live guest its share goes to the dump guest. */
  const operation = async (client: ProtocolClient): Promise<void> => {
    const r = random()
    if (r < 0.34) return timed('local', 'read', () => readSome(client, 'connector/d/mem'))
    if (r < 0.44) return timed('replaced', 'read-replaced', () => readSome(client, 'connector/moving/mem'))
    if (r < 0.54) return timed('peer', 'read-peer', () => readSome(client, 'b/connector/d/mem'))
    if (r < 0.60) return timed('local', 'list', async () => { await client.list(random() < 0.5 ? 'connector' : 'sys') })
    if (r < 0.64) return timed('plugin', 'plugin-leaf', async () => { await readText(client, 'connector/d/ok.txt') })
    if (r < 0.66) return timed('guest', 'guest-scan', () => scanOne(client, 'g', pick(userPids) ?? 1))
    if (live !== undefined && r >= 0.83) {
      if (r < 0.915) return timed('live', 'live-ps', () => psOne(client, 'live', random))
      return timed('live', 'live-maps', async () => {
        const pid = pick((await livePids(client)).filter((p) => p > 1))
        if (pid !== undefined) await mapsOf(client, 'live', pid)
      })
    }
    if (r < 0.78) return timed('guest', 'guest-ps', () => psOne(client, 'g', random))
    return timed('guest', 'guest-maps', () => mapsOf(client, 'g', pick(userPids) ?? 1))
  }

  const flavours = [
    { url: unixUrl, options: {} },
    { url: unixUrl, options: { dataRing: false as const } },
    { url: tcpUrl, options: {} },
  ]
  const clientLoop = async (index: number): Promise<void> => {
    const flavour = flavours[index % flavours.length] ?? flavours[0]
    while (Date.now() < deadline) {
      let client: ProtocolClient
      try {
        client = await connectClient(flavour?.url ?? unixUrl, { ...flavour?.options, timeoutMs: 10_000 })
      } catch (err) {
        note(err, 'local')
        await new Promise((resolve) => setTimeout(resolve, 200))
        continue
      }
      const life = 50 + Math.floor(random() * 400)
      for (let i = 0; i < life && Date.now() < deadline; i++) await operation(client)
      // Killed: the socket is cut with requests possibly in flight, no goodbye.
      client.terminate()
      faults.clientsKilled++
    }
  }
  /** Runs `fault` every `everyMs` until the deadline (waits are the fault schedule, not timing checks). */
  const every = async (everyMs: number, fault: () => Promise<void>): Promise<void> => {
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(everyMs, Math.max(0, deadline - Date.now()))))
      if (Date.now() >= deadline) return
      await fault()
    }
  }
  const peerLoop = every(options.peerEverySeconds * 1000, async () => {
    await stopDaemon(peer, 'SIGKILL')
    peer = await startDaemon(peerArgs, env)
    faults.peerRestarts++
  })
  const dumpLoop = every(15_000, async () => {
    // A new file under the same name: handles on the old one go stale; the connector is made again.
    await writeFile(join(dir, 'moving.next'), pattern)
    await rename(join(dir, 'moving.next'), join(dir, 'moving.raw'))
    await control('connector/rm', 'moving -f').catch((err: unknown) => note(err, 'replaced'))
    await control('connector/new', `moving file:${join(dir, 'moving.raw')}`).catch((err: unknown) => note(err, 'replaced'))
    faults.dumpReplacements++
  })
  const crashLoop = every(30_000, async () => {
    // Only a running plugin can crash; while it waits for its restart the read fails as not running.
    const running = await readText(admin, 'connector/d/ok.txt').then(() => true, () => false)
    if (!running) return
    await readText(admin, 'connector/d/crash.txt').catch(() => undefined)
    faults.pluginCrashes++
  })
  const sampler = setInterval(() => {
    void sample(pid).then((s) => samples.push({ t: Math.round((Date.now() - started) / 1000), ...s }), () => undefined)
  }, 1000)
  try {
    await Promise.all([peerLoop, dumpLoop, crashLoop, ...Array.from({ length: options.clients }, (_, i) => clientLoop(i))])
  } finally {
    clearInterval(sampler)
    await admin.disconnect().catch(() => undefined)
  }
  samples.push({ t: Math.round((Date.now() - started) / 1000), ...(await sample(pid)) })
  await stopDaemon(main)
  await stopDaemon(peer)
  await live?.stop()
  await rm(dir, { recursive: true, force: true })

  // Growth: a trend test on what follows the warm-up (the first third).
  const settled = samples.slice(Math.floor(samples.length / 3))
  const growth = {
    rssMiB: trendOf(settled.map((s) => ({ t: s.t, value: s.rssMiB }))),
    fds: trendOf(settled.map((s) => ({ t: s.t, value: s.fds }))),
  }
  const why: string[] = []
  const baseRss = median(settled.map((s) => s.rssMiB))
  // Material growth: what a leak of one object per operation, or one fd per client, would show in a few minutes.
  if (growth.rssMiB.rising && growth.rssMiB.impliedGrowth > Math.max(16, baseRss * 0.1)) {
    why.push(`RSS still rising after warm-up: ${growth.rssMiB.slopePerMinute} MiB/min (Mann-Kendall Z ${growth.rssMiB.z}), ${growth.rssMiB.impliedGrowth} MiB over the window`)
  }
  if (growth.fds.rising && growth.fds.impliedGrowth >= 3) {
    why.push(`fds still rising after warm-up: ${growth.fds.slopePerMinute}/min (Mann-Kendall Z ${growth.fds.z}), ${growth.fds.impliedGrowth} over the window`)
  }
  if (unexpected.size > 0) why.push(`unexpected errors: ${JSON.stringify(Object.fromEntries(unexpected))}`)
  const sorted = [...latencies].sort((a, b) => a - b)
  const seconds = (Date.now() - started) / 1000
  return {
    seconds: Math.round(seconds), clients: options.clients, ops, opsPerSecond: Math.round(ops / seconds),
    latencyMs: { p50: percentile(sorted, 0.5), p90: percentile(sorted, 0.9), p99: percentile(sorted, 0.99), max: percentile(sorted, 1) },
    errors: Object.fromEntries(errors), unexpected: Object.fromEntries(unexpected), faults, opsByKind: Object.fromEntries(opsByKind),
    setupSeconds, live: live !== undefined, samples, growth, ok: why.length === 0, why,
  }
}

/** The report in the bench results' shape (bench/results/soak.json, bench/README.md), samples kept beside. */
export function soakBenchReport(report: SoakReport): BenchReport & { soak: SoakReport } {
  const first = report.samples[Math.min(report.samples.length - 1, Math.floor(report.samples.length / 3))]
  const lastSample = report.samples[report.samples.length - 1]
  return {
    bench: 'soak',
    description: `${report.seconds} s of ${report.clients} clients (unix with data ring, unix inline, TCP) doing reads, listings, reads through a peer, ps/maps/scan on a Linux guest dump${report.live ? ', ps/maps on a live QEMU guest whose processes come and go' : ''} and reads of a crashing plugin's leaf, with clients killed at random, the peer killed and restarted, a dump replaced on disk and the plugin crashed (npm run soak).`,
    rows: [
      row('operations per second', report.opsPerSecond, 'ops/s'),
      row('latency p50', report.latencyMs.p50, 'ms'),
      row('latency p90', report.latencyMs.p90, 'ms'),
      row('latency p99', report.latencyMs.p99, 'ms'),
      row('daemon RSS at the start', report.samples[0]?.rssMiB ?? 0, 'MiB'),
      row('daemon RSS after warm-up', first?.rssMiB ?? 0, 'MiB'),
      row('daemon RSS at the end', lastSample?.rssMiB ?? 0, 'MiB'),
      row('daemon fds at the start', report.samples[0]?.fds ?? 0, 'fds'),
      row('daemon fds after warm-up', first?.fds ?? 0, 'fds'),
      row('daemon fds at the end', lastSample?.fds ?? 0, 'fds'),
      row('unexpected errors', Object.values(report.unexpected).reduce((a, b) => a + b, 0), 'errors', undefined, '0'),
    ],
    notes: [
      `Errors by kind (all explained by the injected faults): ${JSON.stringify(report.errors)}.`,
      `Faults: ${report.faults.clientsKilled} clients killed, ${report.faults.peerRestarts} peer restarts, ${report.faults.dumpReplacements} dump replacements, ${report.faults.pluginCrashes} plugin crashes.`,
      `Operations by kind: ${JSON.stringify(report.opsByKind)}; setup before the clock: ${report.setupSeconds} s${report.live ? ' (the live guest boots in TCG meanwhile)' : ''}.`,
      `Trend after warm-up (the first third dropped): RSS ${JSON.stringify(report.growth.rssMiB)}, fds ${JSON.stringify(report.growth.fds)}; verdict: ${report.ok ? 'pass' : `fail (${report.why.join('; ')})`}.`,
      'The machine was shared with other engineers\' builds, tests and QEMU guests: latencies include that contention.',
    ],
    soak: report,
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name: string): string | undefined => { const i = process.argv.indexOf(name); return i < 0 ? undefined : process.argv[i + 1] }
  const seconds = Number(arg('--seconds') ?? Number(arg('--minutes') ?? 1) * 60)
  const report = await soak({
    seconds, clients: Number(arg('--clients') ?? 6), live: !process.argv.includes('--no-live'), peerEverySeconds: Number(arg('--peer-every') ?? 20),
  })
  const out = arg('--out')
  if (out !== undefined) await writeFile(out, `${JSON.stringify({ machine: { ...machine(), loadAverage1m: loadavg()[0] }, ...soakBenchReport(report) }, null, 2)}\n`)
  process.stdout.write(`${JSON.stringify(report)}\n`)
  if (!report.ok) { process.stderr.write(`[soak] FAILED: ${report.why.join('; ')}\n`); process.exitCode = 1 }
}
