/**
 * Physical read throughput of connector/NAME/mem on a large file (issue:
 * the foundation's benchmark): in-process through the tree, and through a
 * daemon over a unix socket, for 4 KiB and 1 MiB reads, each as a ratio to
 * `dd` with the same block size on the same file in the same run. All from
 * the page cache (the file is read once first).
 */
import { execFile, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { pino } from 'pino'
import { connectClient, LocalTreeClient } from '../src/net/index.js'
import type { TreeClient } from '../src/net/index.js'
import { BUILTIN_CONNECTOR_KINDS, BUILTIN_MAPPINGS, BUILTIN_OS_KINDS, MemweaveNode } from '../src/node/index.js'
import { emit, row } from './bench-report.js'
import type { BenchRow } from './bench-report.js'
import { ensureFile } from './bench-reads.js'

const MIB = 1024 * 1024
const FILE = process.env['MEMWEAVE_BENCH_FILE'] ?? '/tmp/memweave-bench.bin'
const SIZE = 1024 * MIB
const run = promisify(execFile)

/** dd's own MB/s for `count` blocks of `bs`. */
async function dd(bs: number, count: number): Promise<number> {
  const { stderr } = await run('dd', [`if=${FILE}`, 'of=/dev/null', `bs=${bs}`, `count=${count}`])
  const match = /(\d+) bytes .* copied, ([\d.]+) s/.exec(stderr)
  if (match === null) throw new Error(`cannot parse dd: ${stderr}`)
  return Number(match[1]) / 1e6 / Number(match[2])
}

/** Sequential reads of `block` bytes through a client, `total` bytes; MB/s. */
async function through(client: TreeClient, block: number, total: number): Promise<number> {
  const { handle } = await client.open('connector/big/mem')
  try {
    const started = performance.now()
    for (let at = 0; at < total; at += block) {
      const [result] = await client.read(handle, [{ addr: BigInt(at % SIZE), length: block }])
      if (result === undefined || !result.ok) throw new Error('read failed')
    }
    return total / 1e6 / ((performance.now() - started) / 1000)
  } finally {
    await client.close(handle)
  }
}

const best = async (times: number, fn: () => Promise<number>): Promise<number> => {
  let top = 0
  for (let i = 0; i < times; i++) top = Math.max(top, await fn())
  return top
}

await ensureFile(FILE, SIZE)
await dd(MIB, SIZE / MIB) // warm the page cache
const rows: BenchRow[] = []
const dd1m = await best(3, () => dd(MIB, SIZE / MIB))
const dd4k = await best(3, () => dd(4096, (64 * MIB) / 4096))

const node = new MemweaveNode({ allowWrite: false, log: pino({ level: 'silent' }), connectorKinds: BUILTIN_CONNECTOR_KINDS, osKinds: BUILTIN_OS_KINDS, mappings: BUILTIN_MAPPINGS })
await node.newConnector(`big file:${FILE}`)
const local = new LocalTreeClient(node.tree)
const local1m = await best(3, () => through(local, MIB, SIZE))
const local4k = await best(3, () => through(local, 4096, 64 * MIB))

const dir = mkdtempSync(join(tmpdir(), 'mw-bench-'))
const socket = join(dir, 'd.sock')
const daemon = spawn(process.execPath, ['bin/memweave.js', 'serve', '--listen', `unix:${socket}`, '--log-level', 'warn', '--with', `connector big file:${FILE}`],
  { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, MEMWEAVE_FROM_SOURCE: '1' } })
await new Promise<void>((resolve, reject) => {
  daemon.stdout.on('data', (chunk: Buffer) => { if (chunk.toString().includes('listening on')) resolve() })
  daemon.on('exit', (code) => reject(new Error(`daemon exited with ${code}`)))
})
const remote = await connectClient(`unix:${socket}`)
const remote1m = await best(3, () => through(remote, MIB, 256 * MIB))
const remote4k = await best(3, () => through(remote, 4096, 16 * MIB))
await remote.disconnect()
daemon.kill('SIGTERM')
await node.close()
rmSync(dir, { recursive: true, force: true })

rows.push(row('1 MiB reads of connector/big/mem, in-process (tree)', local1m, 'MB/s', { what: 'dd bs=1M', value: dd1m }, '>= 70% of dd'))
rows.push(row('1 MiB reads, daemon over a unix socket', remote1m, 'MB/s', { what: 'dd bs=1M', value: dd1m }, '>= 40% of dd'))
rows.push(row('4 KiB reads, in-process (tree)', local4k, 'MB/s', { what: 'dd bs=4k', value: dd4k }))
rows.push(row('4 KiB reads, daemon over a unix socket', remote4k, 'MB/s', { what: 'dd bs=4k', value: dd4k }))
emit({
  bench: 'physical-read',
  description: `Sequential reads of a 1 GiB file (${FILE}) through connector/NAME/mem, one piece per call, from the page cache.`,
  rows,
  notes: [
    `GLIBC_TUNABLES=${process.env['GLIBC_TUNABLES'] ?? '(unset)'}: each read returns freshly allocated memory the caller owns, while dd reuses one buffer`,
    'best of 3 runs each; the daemon runs from source (tsx) as a child process',
  ],
})
