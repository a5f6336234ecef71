/**
 * qemu connector throughput against its ceiling, in one run on one QEMU:
 * a plain pread loop on /proc/PID/mem at the same host addresses (reused
 * buffer, and fresh buffers as any API that hands memory out must use),
 * against the connector's read() with 4 KiB and 1 MiB pieces, one piece per
 * batch and 64 pieces per batch. Prints the raw numbers as one JSON line,
 * then the report (rows with ceilings and ratios) as the last line for bench/run-all.ts.
 *
 *   node --import tsx bench/qemu.bench.ts [--pid PID] [--rounds N] [--span-mib N]
 *
 * Without --pid it boots the fixture guest (scripts/fixtures/run-guest.sh)
 * and stops it at the end. Needs root.
 */
import { close, open, read } from 'node:fs'
import { loadavg } from 'node:os'
import { promisify } from 'node:util'
import { pino } from 'pino'
import { qemuConnectorKind } from '../src/connectors/qemu/index.js'
import { physAddr } from '../src/mem/index.js'
import type { PhysicalMemory } from '../src/mem/index.js'
import { Lifetime, parseKindArgs } from '../src/tree/index.js'
import { startGuest, stopGuest } from '../test/qemu-guest-kit.js'
import { emit, row } from './bench-report.js'

const MIB = 1024 * 1024
const KIB4 = 4096

function argValue(flag: string): string | undefined {
  const at = process.argv.indexOf(flag)
  return at < 0 ? undefined : process.argv[at + 1]
}

const openP = promisify(open)
const closeP = promisify(close)
function readP(fd: number, buffer: Uint8Array, position: number): Promise<number> {
  return new Promise((ok, fail) => read(fd, buffer, 0, buffer.length, position, (err, n) => (err !== null ? fail(err) : ok(n))))
}

const mbps = (bytes: number, ms: number): number => Math.round(bytes / 1e6 / (ms / 1000))

/** pread loop over [host, host+span) in blocks; `fresh` allocates every block anew. */
async function preadLoop(pid: number, host: number, span: number, block: number, fresh: boolean): Promise<number> {
  const fd = await openP(`/proc/${pid}/mem`, 'r')
  const reused = new Uint8Array(block)
  const started = performance.now()
  for (let at = 0; at < span; at += block) {
    const buffer = fresh ? new Uint8Array(Buffer.allocUnsafeSlow(block).buffer, 0, block) : reused
    const n = await readP(fd, buffer, host + at)
    if (n !== block) throw new Error(`short read at ${(host + at).toString(16)}`)
  }
  const ms = performance.now() - started
  await closeP(fd)
  return mbps(span, ms)
}

/** The connector's read() over [0, span) of guest memory, `perBatch` pieces of `block` bytes per call. */
async function connectorLoop(mem: PhysicalMemory, span: number, block: number, perBatch: number): Promise<number> {
  const started = performance.now()
  for (let at = 0; at < span; at += block * perBatch) {
    const pieces = []
    for (let i = 0; i < perBatch && at + i * block < span; i++) pieces.push({ addr: physAddr(at + i * block), length: block })
    const results = await mem.read(pieces)
    for (const r of results) if (!r.ok) throw r.error
  }
  return mbps(span, performance.now() - started)
}

/** Best of `rounds`: the least disturbed run. */
async function best(rounds: number, work: () => Promise<number>): Promise<number> {
  let top = 0
  for (let i = 0; i < rounds; i++) top = Math.max(top, await work())
  return top
}

async function main(): Promise<void> {
  const rounds = Number(argValue('--rounds') ?? 5)
  const named = argValue('--pid')
  const guest = named === undefined ? await startGuest() : undefined
  const pid = guest?.pid ?? Number(named)
  const connector = await qemuConnectorKind.create(parseKindArgs(`pid=${pid}`), {
    allowWrite: false, log: pino({ level: 'silent' }), parentLifetime: new Lifetime('bench'), description: "connector 'bench'",
  })
  try {
    const info = await connector.info()
    const ranges = info['ranges'] as { guestStart: string; sizeBytes: number; hostAddress: string }[]
    const low = ranges.find((r) => r.guestStart === '0x0')
    if (low === undefined) throw new Error('no guest RAM at 0')
    const host = Number(BigInt(low.hostAddress))
    const span = Math.min(Number(argValue('--span-mib') ?? 256) * MIB, low.sizeBytes)
    const small = Math.min(span, 64 * MIB)
    const result = {
      pid,
      method: info['method'],
      spanMiB: span / MIB,
      smallSpanMiB: small / MIB,
      rounds,
      loadavg: loadavg().map((l) => Math.round(l * 100) / 100),
      mbps: {
        pread4kReused: await best(rounds, () => preadLoop(pid, host, small, KIB4, false)),
        pread4kFresh: await best(rounds, () => preadLoop(pid, host, small, KIB4, true)),
        connector4k: await best(rounds, () => connectorLoop(connector.mem, small, KIB4, 1)),
        connector4kBatch64: await best(rounds, () => connectorLoop(connector.mem, small, KIB4, 64)),
        pread1mReused: await best(rounds, () => preadLoop(pid, host, span, MIB, false)),
        pread1mFresh: await best(rounds, () => preadLoop(pid, host, span, MIB, true)),
        connector1m: await best(rounds, () => connectorLoop(connector.mem, span, MIB, 1)),
        connector1mBatch16: await best(rounds, () => connectorLoop(connector.mem, span, MIB, 16)),
      },
    }
    const m = result.mbps
    const preadReused = (value: number): { what: string; value: number } => ({ what: 'pread loop, reused buffer', value })
    process.stdout.write(`${JSON.stringify(result)}\n`)
    emit({
      bench: 'qemu connector',
      description: `Guest RAM of a live QEMU (pid ${pid}, ${String(result.method)} layout) read through the qemu connector vs a plain pread loop on /proc/PID/mem at the same host addresses; best of ${rounds} rounds over ${result.smallSpanMiB} MiB (4 KiB) and ${result.spanMiB} MiB (1 MiB).`,
      rows: [
        row('connector, 1 MiB pieces, 1 per batch', m.connector1m, 'MB/s', preadReused(m.pread1mReused), '>= 70%'),
        row('connector, 1 MiB pieces, 16 per batch', m.connector1mBatch16, 'MB/s', preadReused(m.pread1mReused)),
        row('connector, 1 MiB, vs fresh-buffer pread', m.connector1m, 'MB/s', { what: 'pread loop, fresh buffers', value: m.pread1mFresh }),
        row('connector, 4 KiB pieces, 1 per batch', m.connector4k, 'MB/s', preadReused(m.pread4kReused)),
        row('connector, 4 KiB pieces, 64 per batch', m.connector4kBatch64, 'MB/s', preadReused(m.pread4kReused)),
      ],
      notes: [
        'A 64-piece batch of adjacent 4 KiB pieces is merged into few large preads, hence far above the 4 KiB pread loop.',
        'The connector hands out fresh memory for every read (views of one buffer per merged read); the reused-buffer loop is the upper bound.',
        `Load average during the run: ${result.loadavg.join(' ')}.`,
      ],
    })
  } finally {
    await connector.close()
    await stopGuest(guest)
  }
}

await main()
