/**
 * Shared pieces of the protocol end-to-end tests: a small real Tree (memory
 * at a kernel-half address, text, rpc, control and a gated slow leaf), a
 * server on a unix socket and loopback TCP in a temp dir, and a raw
 * WebSocket speaker for sending what no well-behaved client would.
 */
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import type { Logger } from 'pino'
import { WebSocket } from 'ws'
import { MemweaveError } from '../src/errors/index.js'
import type { MemMetadata, MemoryView, PieceResult, ReadPiece, WritePiece, WriteResult } from '../src/mem/index.js'
import { decodeMessage, encodeMessage, PROTOCOL_VERSION, startServer } from '../src/net/index.js'
import type { RunningServer, ServerLimits } from '../src/net/index.js'
import { Lifetime, controlLeaf, generatedLeaf, memLeaf, rpcLeaf, staticBranch, Tree } from '../src/tree/index.js'
import type { Leaf } from '../src/tree/index.js'

export const KERNEL_BASE = 0xffff_8000_0000_0000n

export function testLog(): Logger {
  return pino({ level: process.env.MEMWEAVE_TEST_LOG ?? 'silent' })
}

/** One mapped region of bytes at `base`; anything else is unmapped. Reads copy, like a real source. */
export class RegionMemory implements MemoryView {
  /** When set, reads wait for it (to hold a request in flight). */
  gate: Promise<void> | undefined
  reads = 0

  constructor(readonly base: bigint, readonly bytes: Uint8Array) {}

  async read(pieces: readonly ReadPiece[]): Promise<PieceResult[]> {
    this.reads++
    if (this.gate !== undefined) await this.gate
    return pieces.map((piece) => {
      const start = this.offsetOf(piece.addr, piece.length)
      if (start === undefined) return { ok: false, error: new MemweaveError('mem', 'unmapped', `0x${piece.addr.toString(16)} is not mapped`) }
      return { ok: true, data: this.bytes.slice(start, start + piece.length) }
    })
  }

  async write(pieces: readonly WritePiece[]): Promise<WriteResult[]> {
    return pieces.map((piece) => {
      const start = this.offsetOf(piece.addr, piece.data.length)
      if (start === undefined) return { ok: false, error: new MemweaveError('mem', 'unmapped', `0x${piece.addr.toString(16)} is not mapped`) }
      this.bytes.set(piece.data, start)
      return { ok: true }
    })
  }

  metadata(): MemMetadata {
    return { maxAddress: this.base + BigInt(this.bytes.length), idealBatchSize: 64, readonly: false, volatile: false }
  }

  private offsetOf(addr: bigint, length: number): number | undefined {
    const offset = addr - this.base
    return offset < 0n || offset + BigInt(length) > BigInt(this.bytes.length) ? undefined : Number(offset)
  }
}

export interface TestTree {
  readonly tree: Tree
  readonly kmem: RegionMemory
  readonly slow: RegionMemory
  readonly lifetime: Lifetime
  readonly commands: string[]
  /** data/gated: opening it waits for `openGate` when set; counts opens and releases. */
  readonly gated: { openGate: Promise<void> | undefined; opens: number; closes: number }
}

export function makeTree(options: { maxPieces?: number; maxBatchBytes?: number; memBytes?: number } = {}): TestTree {
  const tree = new Tree({ allowWrite: true, maxPieces: options.maxPieces, maxBatchBytes: options.maxBatchBytes })
  const lifetime = new Lifetime("object 'test'")
  const kmem = new RegionMemory(KERNEL_BASE, new Uint8Array(options.memBytes ?? 1 << 20).map((_, i) => (i * 7) & 0xff))
  const slow = new RegionMemory(0n, new Uint8Array(4096).fill(0xab))
  const commands: string[] = []
  const gated: TestTree['gated'] = { openGate: undefined, opens: 0, closes: 0 }
  const gatedLeaf: Leaf = {
    type: 'leaf', identity: 'test/gated', lifetime,
    meta: () => ({ sizeBytes: 0n, readable: true, writable: false, rpc: false, content: 'binary' }),
    open: async () => {
      gated.opens++
      if (gated.openGate !== undefined) await gated.openGate
      return { sizeBytes: 0n, read: async (pieces) => pieces.map(() => ({ ok: true, data: new Uint8Array(0) })), close: async () => { gated.closes++ } }
    },
  }
  tree.setRoot(staticBranch({
    data: staticBranch({
      kmem: memLeaf({ identity: 'test/kmem', lifetime, mem: kmem, sizeBytes: 1n << 64n }),
      slow: memLeaf({ identity: 'test/slow', lifetime, mem: slow }),
      text: generatedLeaf({ identity: 'test/text', lifetime, generate: () => 'hello from the tree\n' }),
      gated: gatedLeaf,
      echo: rpcLeaf('test/echo', lifetime, async (request) => ({ echoed: request, big: KERNEL_BASE })),
    }),
    ctl: controlLeaf({
      identity: 'test/ctl', lifetime, usage: 'write a line',
      run: async (line) => { commands.push(line); tree.events.notify(`data/${line}`); return `ran ${line}` },
    }),
  }))
  return { tree, kmem, slow, lifetime, commands, gated }
}

export interface TestServer {
  readonly server: RunningServer
  readonly unixUrl: string
  readonly tcpUrl: string
  /** The token a TCP client presents: the one given, else the daemon's auto token (from its 0600 file). */
  readonly tcpToken: string | undefined
  readonly dir: string
  stop(): Promise<void>
}

export async function serve(tree: Tree, options: { token?: string; limits?: Partial<ServerLimits>; tcp?: boolean } = {}): Promise<TestServer> {
  const dir = await mkdtemp(join(tmpdir(), 'memweave-proto-'))
  const listen = [`unix:${join(dir, 'mw.sock')}`, ...(options.tcp === false ? [] : ['ws://127.0.0.1:0'])]
  const server = await startServer({ tree, listen, token: options.token, log: testLog(), limits: options.limits, nodeInfo: () => ({ name: 'test-node' }) })
  return {
    server,
    dir,
    unixUrl: server.addresses[0] ?? '',
    tcpUrl: server.addresses[1] ?? '',
    tcpToken: options.token ?? (server.tokenFiles[0] === undefined ? undefined : readFileSync(server.tokenFiles[0], 'utf8').trim()),
    stop: async () => { await server.close(); await rm(dir, { recursive: true, force: true }) },
  }
}

export function gate(): { promise: Promise<void>; open: () => void } {
  let open = (): void => {}
  const promise = new Promise<void>((resolve) => { open = resolve })
  return { promise, open }
}

/** A bare WebSocket to the daemon that sends whatever it is told and records what comes back. */
export class RawPeer {
  readonly received: unknown[] = []
  readonly closed: Promise<{ code: number; reason: string }>
  private waiters: Array<() => void> = []

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      this.received.push(decodeMessage(data))
      for (const wake of this.waiters.splice(0)) wake()
    })
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => {
      resolve({ code, reason: reason.toString() })
      for (const wake of this.waiters.splice(0)) wake()
    }))
  }

  static async connect(url: string): Promise<RawPeer> {
    const path = url.startsWith('unix:') ? url.slice('unix:'.length) : undefined
    const ws = new WebSocket(path === undefined ? url : 'ws://localhost/', {
      perMessageDeflate: false, ...(path === undefined ? {} : { createConnection: () => connect(path) }),
    })
    await new Promise<void>((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
    return new RawPeer(ws)
  }

  send(value: unknown): void {
    this.ws.send(encodeMessage(value))
  }

  async hello(token?: string): Promise<Record<string, unknown>> {
    this.send({ id: 0, op: 'hello', version: PROTOCOL_VERSION, ...(token === undefined ? {} : { token }) })
    return this.next()
  }

  /** The next message, in arrival order. */
  async next(): Promise<Record<string, unknown>> {
    while (this.received.length === 0) {
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error('connection closed with nothing more received')
      await new Promise<void>((resolve) => this.waiters.push(resolve))
    }
    const message = this.received.shift()
    if (typeof message !== 'object' || message === null) throw new Error('received a message that is not a map')
    return Object.fromEntries(Object.entries(message))
  }

  /** The reply with this id, skipping (and keeping) anything else. */
  async reply(id: number): Promise<Record<string, unknown>> {
    for (;;) {
      const index = this.received.findIndex((m) => typeof m === 'object' && m !== null && 'id' in m && m.id === id)
      if (index >= 0) {
        const [message] = this.received.splice(index, 1)
        return Object.fromEntries(Object.entries(message ?? {}))
      }
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error(`connection closed before reply ${id}`)
      await new Promise<void>((resolve) => this.waiters.push(resolve))
    }
  }
}
