/**
 * Composition benchmark: reads through chained handles over TCP loopback,
 * one hop (A → C) and two hops (A → B → C), against the same reads
 * in-process, all in one run. C and B are nodes in child processes (as
 * daemons would be); A is a node in this process, read through its own
 * LocalTreeClient, so a hop is exactly one peer link. The source is memory
 * that copies on read (a fresh buffer per piece, as a real source gives).
 * Prints one BenchReport (bench-report.ts) as its last line.
 *
 *   node --import tsx bench/composition.bench.ts [--quick]
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { cpus, loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import { connectClient, LocalTreeClient, startServer } from '../src/net/index.js'
import { parseConnectOption, PeerManager } from '../src/node/index.js'
import type { TreeClient } from '../src/net/index.js'
import { BUILTIN_CONNECTOR_KINDS, BUILTIN_MAPPINGS, BUILTIN_OS_KINDS, MemweaveNode } from '../src/node/index.js'
import { Lifetime, memLeaf } from '../src/tree/index.js'
import { emit, row } from './bench-report.js'
import { CopyingMemory, measureReads } from './bench-reads.js'
import { median } from './bench-stats.js'

const SIZE = 64 << 20
const MIB = 1 << 20
const log = pino({ level: 'warn' })

function makeNode(withMemory: boolean): MemweaveNode {
  const node = new MemweaveNode({ allowWrite: false, log, connectorKinds: BUILTIN_CONNECTOR_KINDS, osKinds: BUILTIN_OS_KINDS, mappings: BUILTIN_MAPPINGS })
  if (withMemory) {
    const leaf = memLeaf({ identity: 'bench/mem', lifetime: new Lifetime('bench'), mem: new CopyingMemory(Buffer.alloc(SIZE).map((_, i) => (i * 31) & 0xff)) })
    node.extraRoot.set('mem', () => leaf)
  }
  return node
}

/** A child node: C serves memory; B mounts C. Prints its TCP address. */
async function serveChild(role: string, upstream: string | undefined): Promise<void> {
  const node = makeNode(role === 'c')
  const peers = new PeerManager({ node, log })
  if (upstream !== undefined) await peers.add(parseConnectOption(`c=${upstream}`))
  const server = await startServer({ tree: node.tree, listen: ['ws://127.0.0.1:0'], log, nodeInfo: () => ({ nodeId: peers.nodeId }) })
  process.stdout.write(`${server.addresses[0] ?? ''}\n`)
}

function startChild(role: string, upstream?: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--serve', role, ...(upstream === undefined ? [] : [upstream])],
    { stdio: ['ignore', 'pipe', 'inherit'] })
  return new Promise((resolve, reject) => {
    child.stdout.once('data', (data: Buffer) => resolve({ child, url: data.toString().trim() }))
    child.once('exit', (code) => reject(new Error(`bench node ${role} exited with ${code}`)))
  })
}

interface Suite { mib: number; kib4: number; pipelined8: number }

/** Throughputs (MB/s, reads/s), each the median of three runs: a 2-core VM is noisy. */
async function suite(client: TreeClient, path: string, quick: boolean): Promise<Suite> {
  const n = (full: number): number => (quick ? Math.ceil(full / 10) : full)
  const runs = async (job: () => Promise<number>): Promise<number> => median([await job(), await job(), await job()])
  return {
    mib: await runs(async () => MIB / (await measureReads(client, path, SIZE, MIB, n(200), 1))),
    kib4: await runs(async () => 1e6 / (await measureReads(client, path, SIZE, 4096, n(2000), 1))),
    pipelined8: await runs(async () => 1e6 / (await measureReads(client, path, SIZE, 8, n(50_000), 256))),
  }
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick')
  const c = await startChild('c')
  const b = await startChild('b', c.url)
  const a = makeNode(false)
  const peers = new PeerManager({ node: a, log })
  try {
    await peers.add(parseConnectOption(`c=${c.url}`))
    await peers.add(parseConnectOption(`b=${b.url}`))
    const local = makeNode(true)
    const inProcess = await suite(new LocalTreeClient(local.tree), 'mem', quick)
    const client = new LocalTreeClient(a.tree)
    const oneHop = await suite(client, 'c/mem', quick)
    const twoHops = await suite(client, 'b/c/mem', quick)
    // The same transport without the peer layer: a protocol client in this process straight to C.
    const direct = await connectClient(c.url)
    const bare = await suite(direct, 'mem', quick)
    await direct.disconnect()
    const ceiling = (value: number): { what: string; value: number } => ({ what: 'in-process', value })
    emit({
      bench: 'composition',
      description: 'Reads through chained handles over TCP loopback: one hop (A→C) and two hops (A→B→C, each node its own process), against the same reads in-process.',
      rows: [
        row('1 MiB reads, one hop, one at a time', oneHop.mib, 'MB/s', ceiling(inProcess.mib), '>= 40% of in-process'),
        row('1 MiB reads, one hop, vs a direct protocol client to C (same TCP transport, no peer layer)', oneHop.mib, 'MB/s', { what: 'direct client', value: bare.mib }),
        row('1 MiB reads, two hops, one at a time', twoHops.mib, 'MB/s', ceiling(inProcess.mib)),
        row('4 KiB reads, one hop, one at a time', oneHop.kib4, 'reads/s', ceiling(inProcess.kib4)),
        row('4 KiB reads, two hops, one at a time', twoHops.kib4, 'reads/s', ceiling(inProcess.kib4)),
        row('4 KiB reads, one hop, vs a direct protocol client to C', oneHop.kib4, 'reads/s', { what: 'direct client', value: bare.kib4 }),
        row('8-byte reads, one hop, 256 in flight', oneHop.pipelined8, 'reads/s', ceiling(inProcess.pipelined8), '>= 50,000 reads/s'),
        row('8-byte reads, one hop, 256 in flight, vs a direct protocol client to C', oneHop.pipelined8, 'reads/s', { what: 'direct client', value: bare.pipelined8 }),
        row('8-byte reads, two hops, 256 in flight', twoHops.pipelined8, 'reads/s', ceiling(inProcess.pipelined8)),
      ],
      notes: [
        `load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} on ${cpus().length} cores while running${quick ? ' (--quick)' : ''}`,
        'concurrent reads of one remote handle are coalesced into one request per turn (one round trip per hop per batch)',
        'each figure is the median of three runs; the in-process ceiling is one memory copy, the direct-client ceiling is the protocol over the same TCP loopback',
      ],
    })
    await local.close()
  } finally {
    await peers.close()
    await a.close()
    c.child.kill()
    b.child.kill()
  }
}

if (process.argv[2] === '--serve') await serveChild(process.argv[3] ?? 'c', process.argv[4])
else await main()
