/**
 * Protocol micro benchmark: the same reads in-process (LocalTreeClient) and
 * over the unix socket (ProtocolClient to a daemon in a child process, as in
 * real use), once with the shared data ring (big replies through a tmpfs
 * file, protocol 1.1) and once with every byte through the socket, for 1 MiB
 * and 4 KiB pieces and pipelined 8-byte reads. Two sources: memory that
 * copies on read, and a file read with pread (what a dump-file connector
 * does). Prints one BenchReport (bench-report.ts) as its last line, each row
 * with the in-process figure as its ceiling.
 *
 *   node --import tsx bench/protocol.bench.ts [--quick]
 */
import { spawn } from 'node:child_process'
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer, connect } from 'node:net'
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import { MemweaveError } from '../src/errors/index.js'
import type { MemMetadata, MemoryView, PieceResult, ReadPiece, WriteResult } from '../src/mem/index.js'
import { connectClient, DEFAULT_DATA_RING_POLICY, LocalTreeClient, startServer } from '../src/net/index.js'
import type { TreeClient } from '../src/net/index.js'
import { Lifetime, memLeaf, staticBranch, Tree } from '../src/tree/index.js'
import { emit, row } from './bench-report.js'
import type { BenchRow } from './bench-report.js'
import { CopyingMemory, measureReads } from './bench-reads.js'

const SIZE = 64 << 20
const MIB = 1 << 20

/** pread into a fresh buffer per piece. */
class FileMemory implements MemoryView {
  constructor(private readonly file: FileHandle) {}
  async read(pieces: readonly ReadPiece[]): Promise<PieceResult[]> {
    return Promise.all(pieces.map(async (p): Promise<PieceResult> => {
      const data = Buffer.allocUnsafe(p.length)
      const { bytesRead } = await this.file.read(data, 0, p.length, Number(p.addr))
      return { ok: true, data: data.subarray(0, bytesRead) }
    }))
  }
  async write(): Promise<WriteResult[]> { throw new MemweaveError('mem', 'unsupported', 'read-only') }
  metadata(): MemMetadata { return { maxAddress: BigInt(SIZE), idealBatchSize: 64, readonly: true, volatile: false } }
}

async function makeTree(dataFile: string): Promise<{ tree: Tree; close: () => Promise<void> }> {
  const file = await open(dataFile, 'r')
  const bytes = await file.readFile()
  const tree = new Tree({ allowWrite: false })
  const lifetime = new Lifetime('bench')
  tree.setRoot(staticBranch({
    mem: memLeaf({ identity: 'bench/mem', lifetime, mem: new CopyingMemory(bytes) }),
    file: memLeaf({ identity: 'bench/file', lifetime, mem: new FileMemory(file) }),
  }))
  return { tree, close: () => file.close() }
}

interface Suite {
  readonly mem1MiB: number
  readonly file1MiB: number
  readonly mem1MiBDepth4: number
  readonly mem4KiB: number
  readonly file4KiB: number
  readonly pipelined8B: number
  readonly sequential8B: number
}

/** Throughputs: MB/s for the big reads, reads/s for the small ones. */
async function suite(client: TreeClient, quick: boolean): Promise<Suite> {
  const n = (full: number): number => (quick ? Math.ceil(full / 10) : full)
  const mbps = (micros: number, length: number): number => length / micros
  return {
    mem1MiB: mbps(await measureReads(client, 'mem', SIZE, MIB, n(400), 1), MIB),
    file1MiB: mbps(await measureReads(client, 'file', SIZE, MIB, n(400), 1), MIB),
    mem1MiBDepth4: mbps(await measureReads(client, 'mem', SIZE, MIB, n(400), 4), MIB),
    mem4KiB: 1e6 / (await measureReads(client, 'mem', SIZE, 4096, n(5000), 1)),
    file4KiB: 1e6 / (await measureReads(client, 'file', SIZE, 4096, n(5000), 1)),
    pipelined8B: 1e6 / (await measureReads(client, 'mem', SIZE, 8, n(50_000), 256)),
    sequential8B: 1e6 / (await measureReads(client, 'mem', SIZE, 8, n(10_000), 1)),
  }
}

async function serveChild(dataFile: string, socket: string): Promise<void> {
  const { tree } = await makeTree(dataFile)
  await startServer({ tree, listen: [`unix:${socket}`], log: pino({ level: 'warn' }) })
  // The transport alone, for comparison: each byte received is answered with a fresh 1 MiB copy.
  const bytes = await readFile(dataFile)
  let offset = 0
  await new Promise<void>((resolve) => createServer((s) => s.on('data', (d) => {
    for (let i = 0; i < d.length; i++) { s.write(Buffer.from(bytes.subarray(offset, offset + MIB))); offset = (offset + 7 * 4096) % (SIZE - MIB) }
  })).listen(`${socket}.raw`, resolve))
  await new Promise<void>((resolve) => createServer((s) => s.on('data', (d) => s.write(d))).listen(`${socket}.echo`, resolve))
  process.stdout.write('ready\n')
}

/** Round trips per second of 8 bytes over a plain unix socket. */
async function rawPingPong(path: string, count: number): Promise<number> {
  const socket = connect(path)
  await new Promise((resolve) => socket.once('connect', resolve))
  let wake = (): void => {}
  socket.on('data', () => wake())
  const once = (): Promise<void> => new Promise((resolve) => { wake = resolve; socket.write('12345678') })
  for (let i = 0; i < 100; i++) await once()
  const start = performance.now()
  for (let i = 0; i < count; i++) await once()
  const perSecond = (count * 1000) / (performance.now() - start)
  socket.destroy()
  return perSecond
}

/** MB/s of 1 MiB answers over a plain unix socket, one at a time. */
async function rawSocket(path: string, count: number): Promise<number> {
  const socket = connect(path)
  await new Promise((resolve) => socket.once('connect', resolve))
  let received = 0
  let wanted = 0
  let wake = (): void => {}
  socket.on('data', (d: Buffer) => { received += d.length; if (received >= wanted) wake() })
  const once = (): Promise<void> => new Promise((resolve) => { wanted += MIB; wake = resolve; socket.write(Buffer.from([1])) })
  for (let i = 0; i < 20; i++) await once()
  const start = performance.now()
  for (let i = 0; i < count; i++) await once()
  const micros = (performance.now() - start) * 1000 / count
  socket.destroy()
  return MIB / micros
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick')
  const dir = await mkdtemp(join(tmpdir(), 'memweave-bench-'))
  const dataFile = join(dir, 'data.bin')
  const socket = join(dir, 'mw.sock')
  await writeFile(dataFile, Buffer.alloc(SIZE).map((_, i) => (i * 31) & 0xff))
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--serve', dataFile, socket], { stdio: ['ignore', 'pipe', 'inherit'] })
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.once('data', () => resolve())
      child.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)))
    })
    const { tree, close } = await makeTree(dataFile)
    const local = await suite(new LocalTreeClient(tree), quick)
    await close()
    const raw = await rawSocket(`${socket}.raw`, quick ? 40 : 400)
    const pingPong = await rawPingPong(`${socket}.echo`, quick ? 1000 : 10_000)
    const inline = await connectClient(`unix:${socket}`, { dataRing: false })
    const socketOnly = await suite(inline, quick)
    await inline.disconnect()
    const shared = await connectClient(`unix:${socket}`)
    if (!shared.dataRing.active) throw new Error('the bench daemon did not accept the shared data ring')
    const ring = await suite(shared, quick)
    await shared.disconnect()
    const inProcess: Suite = { ...local }
    const both = (metric: string, key: keyof Suite, unit: string, goal?: string): BenchRow[] => [
      row(`${metric}, shared ring`, ring[key], unit, { what: 'in-process', value: inProcess[key] }, goal),
      row(`${metric}, inline`, socketOnly[key], unit, { what: 'in-process', value: inProcess[key] }, goal),
    ]
    emit({
      bench: 'protocol',
      description: 'Reads through the node protocol over a unix socket (daemon in a child process), with the shared data ring and inline, against the same reads in-process through LocalTreeClient.',
      rows: [
        ...both('1 MiB reads, memory source (copying), one at a time', 'mem1MiB', 'MB/s', '>= 40% of in-process'),
        ...both('1 MiB reads, file source (pread), one at a time', 'file1MiB', 'MB/s', '>= 40% of in-process'),
        row('1 MiB reads, memory source, one at a time, shared ring vs the bare socket', ring.mem1MiB, 'MB/s', { what: 'plain unix socket, 1 MiB answers', value: raw }),
        row('1 MiB reads, memory source, one at a time, inline vs the bare socket', socketOnly.mem1MiB, 'MB/s', { what: 'plain unix socket, 1 MiB answers', value: raw }),
        ...both('1 MiB reads, memory source, 4 in flight', 'mem1MiBDepth4', 'MB/s'),
        ...both('4 KiB reads, memory source, one at a time', 'mem4KiB', 'reads/s'),
        ...both('4 KiB reads, file source, one at a time', 'file4KiB', 'reads/s'),
        ...both('8-byte reads, 256 in flight', 'pipelined8B', 'reads/s', 'many thousands/s'),
        ...both('8-byte reads, one at a time', 'sequential8B', 'reads/s'),
        row('8-byte reads, one at a time, vs the bare socket', socketOnly.sequential8B, 'reads/s', { what: 'plain unix socket, 8-byte ping-pong', value: pingPong }),
      ],
      notes: [
        `load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} on ${cpus().length} cores while running${quick ? ' (--quick)' : ''}`,
        `malloc: GLIBC_TUNABLES=${process.env.GLIBC_TUNABLES ?? '(unset)'}`,
        'the bare-socket row shows what the transport allows at all: a unix socket moves at most wmem_default (208 KiB) per wake-up, and Node cannot raise SO_SNDBUF',
        `shared ring: replies whose pieces of >= ${DEFAULT_DATA_RING_POLICY.minPieceBytes} bytes add up to >= ${DEFAULT_DATA_RING_POLICY.minReplyBytes} bytes go through a tmpfs file (pwrite by the daemon, pread by the client); smaller ones, like the 4 KiB and 8-byte reads, stay inline either way`,
      ],
    })
  } finally {
    child.kill()
    await rm(dir, { recursive: true, force: true })
  }
}

if (process.argv[2] === '--serve') await serveChild(process.argv[3] ?? '', process.argv[4] ?? '')
else await main()
