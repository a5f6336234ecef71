/**
 * The Python client against the TypeScript client, in the same run, on the
 * same daemon (a child process serving a guest dump over a unix socket):
 * 8-byte reads one at a time (the round trip), 1 MiB reads one at a time
 * (throughput), and 1024 8-byte pieces per batched read. The TypeScript
 * client is the ceiling; both clients are measured with every byte through
 * the socket and with the shared data ring. Each side is
 * measured twice, alternating, and the better run kept, so a burst of other
 * load on the machine does not decide the ratio.
 *
 *   node --import tsx bench/python-client.bench.ts [--quick]
 */
import { execFile, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { connectClient } from '../src/net/index.js'
import type { ProtocolClient } from '../src/net/index.js'
import { linuxFixtures } from '../test/linux-kit.js'
import { emit, row } from './bench-report.js'

const run = promisify(execFile)
const REPO = join(dirname(fileURLToPath(import.meta.url)), '..')
const PYTHON = '/usr/bin/python3'
const MIB = 1 << 20
const SPAN = 256 * MIB

interface Figures { readonly smallUs: number; readonly mibMBps: number; readonly piecesPerS: number }

async function measureTs(url: string, ring: boolean, smallCount: number, mibCount: number): Promise<Figures> {
  const client: ProtocolClient = await connectClient(url, { name: 'bench', dataRing: ring ? {} : false })
  try {
    const { handle } = await client.open('connector/dump/mem')
    const read = async (addr: number, length: number): Promise<void> => {
      const [r] = await client.read(handle, [{ addr: BigInt(addr), length }])
      if (r === undefined || !r.ok || r.data.length !== length) throw new Error('bad read in benchmark')
    }
    for (let i = 0; i < 20; i++) await read(0x100000 + i * 4096, 8)
    let start = performance.now()
    for (let i = 0; i < smallCount; i++) await read((i * 4096 * 7) % SPAN, 8)
    const smallUs = ((performance.now() - start) * 1000) / smallCount
    for (let i = 0; i < 3; i++) await read(i * MIB, MIB)
    start = performance.now()
    for (let i = 0; i < mibCount; i++) await read((i * 4096 * 7 * 37) % (SPAN - MIB), MIB)
    const mibMBps = (mibCount * MIB) / ((performance.now() - start) * 1000)
    const pieces = Array.from({ length: 1024 }, (_, i) => ({ addr: BigInt((i * 4096 * 7) % SPAN), length: 8 }))
    const rounds = Math.max(1, Math.floor(smallCount / 100))
    start = performance.now()
    for (let r = 0; r < rounds; r++) {
      const results = await client.read(handle, pieces)
      if (results.some((p) => !p.ok)) throw new Error('failed piece in benchmark')
    }
    const piecesPerS = (rounds * pieces.length) / ((performance.now() - start) / 1000)
    await client.close(handle)
    return { smallUs, mibMBps, piecesPerS }
  } finally {
    await client.disconnect()
  }
}

async function measurePython(url: string, ring: boolean, smallCount: number, mibCount: number): Promise<Figures> {
  const { stdout } = await run(PYTHON, [join(REPO, 'bench', 'python_client_bench.py'), url, String(smallCount), String(mibCount), ring ? 'ring' : 'inline'], {
    env: { ...process.env, PYTHONPATH: join(REPO, 'python'), MEMWEAVE_TOKEN: '', MEMWEAVE_DAEMON: '' },
  })
  return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Figures
}

function best(runs: readonly Figures[]): Figures {
  return {
    smallUs: Math.min(...runs.map((r) => r.smallUs)),
    mibMBps: Math.max(...runs.map((r) => r.mibMBps)),
    piecesPerS: Math.max(...runs.map((r) => r.piecesPerS)),
  }
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick')
  const fixture = linuxFixtures()[0]
  if (fixture === undefined) throw new Error('no guest dump fixtures: run bash scripts/fixtures/build-guests.sh')
  const dir = await mkdtemp(join(tmpdir(), 'memweave-bench-python-'))
  const url = `unix:${join(dir, 'mw.sock')}`
  const daemon = spawn(process.execPath, [join(REPO, 'bin', 'memweave.js'), 'serve', '--log-level', 'warn', '--listen', url, '--with', `connector dump file:${fixture.dump}`], {
    stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, MEMWEAVE_TOKEN: '', MEMWEAVE_DAEMON: '' },
  })
  try {
    await new Promise<void>((resolve, reject) => {
      let out = ''
      daemon.stdout.on('data', (chunk: Buffer) => { out += chunk.toString(); if (out.includes('listening on')) resolve() })
      daemon.once('exit', (code) => reject(new Error(`the daemon exited (${code}) before listening`)))
    })
    const smallCount = quick ? 500 : 5000
    const mibCount = quick ? 50 : 400
    const ts: Figures[] = []
    const tsRing: Figures[] = []
    const py: Figures[] = []
    const pyRing: Figures[] = []
    for (let round = 0; round < 2; round++) {
      ts.push(await measureTs(url, false, smallCount, mibCount))
      py.push(await measurePython(url, false, smallCount, mibCount))
      tsRing.push(await measureTs(url, true, smallCount, mibCount))
      pyRing.push(await measurePython(url, true, smallCount, mibCount))
    }
    const [t, tr, p, pr] = [best(ts), best(tsRing), best(py), best(pyRing)]
    const inline = 'TypeScript client, inline'
    emit({
      bench: 'python-client',
      description: 'The Python client (python/) against the TypeScript client on the same daemon and dump, in the same run (unix socket; the better of two alternating runs each).',
      rows: [
        row('Python: 8-byte reads one at a time', 1e6 / p.smallUs, 'reads/s', { what: inline, value: 1e6 / t.smallUs }),
        row('Python: round trip of one small read', p.smallUs, 'us', { what: inline, value: t.smallUs }),
        row('Python: 1 MiB reads one at a time, inline', p.mibMBps, 'MB/s', { what: inline, value: t.mibMBps }),
        row('Python: 1 MiB reads one at a time, shared ring', pr.mibMBps, 'MB/s', { what: 'TypeScript client, shared ring', value: tr.mibMBps }),
        row('Python: batches of 1024 8-byte pieces', p.piecesPerS, 'pieces/s', { what: inline, value: t.piecesPerS }),
      ],
      notes: [
        `Dump: ${fixture.label}; reads of connector/dump/mem within its first 256 MiB. ${smallCount} small reads and ${mibCount} 1 MiB reads per run; small-read rows are from the inline runs.`,
        `The Python client runs its asyncio loop (websockets 10.4 from Debian) in a background thread; every call hops to it and back. It offers the shared data ring too, as the TypeScript client does by default.`,
        'For the round-trip row lower is better, so its ratio above 100% means slower than TypeScript.',
        `Load average at the end of the run: ${loadavg().map((l) => l.toFixed(1)).join(', ')} (other work on the machine slows both clients alike).`,
      ],
    })
  } finally {
    daemon.kill('SIGTERM')
    await new Promise((resolve) => daemon.once('exit', resolve))
    await rm(dir, { recursive: true, force: true })
  }
}

await main()
