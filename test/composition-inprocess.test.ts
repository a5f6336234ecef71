/**
 * Composition details with in-process nodes and real servers on unix
 * sockets (one process, so counters and events can be inspected): change
 * events cross a cycle once and never echo, a request naming a node is
 * refused there, per-peer limits, removing a peer, a peer's object replaced
 * under a handle, and concurrent reads coalesced into one request.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { pino } from 'pino'
import { MemweaveError } from '../src/errors/index.js'
import { connectClient, LocalTreeClient, startServer } from '../src/net/index.js'
import type { RunningServer } from '../src/net/index.js'
import { parseConnectOption, PeerManager } from '../src/node/index.js'
import type { PeerTuning } from '../src/node/index.js'
import { BUILTIN_CONNECTOR_KINDS, BUILTIN_MAPPINGS, BUILTIN_OS_KINDS, MemweaveNode } from '../src/node/index.js'
import { Lifetime, memLeaf } from '../src/tree/index.js'
import { RegionMemory } from './protocol-kit.js'

const log = pino({ level: process.env.MEMWEAVE_TEST_LOG ?? 'silent' })
let dir = ''

interface TestNode {
  readonly node: MemweaveNode
  readonly peers: PeerManager
  readonly server: RunningServer
  readonly client: LocalTreeClient
  readonly url: string
}

const nodes: TestNode[] = []

async function makeNode(name: string, tuning: Partial<PeerTuning> = {}): Promise<TestNode> {
  const node = new MemweaveNode({ allowWrite: false, log, connectorKinds: BUILTIN_CONNECTOR_KINDS, osKinds: BUILTIN_OS_KINDS, mappings: BUILTIN_MAPPINGS })
  const peers = new PeerManager({ node, log, nodeId: `node-${name}`, tuning: { backoffMinMs: 50, backoffMaxMs: 200, ...tuning } })
  const url = `unix:${join(dir, `${name}.sock`)}`
  const server = await startServer({ tree: node.tree, listen: [url], log, nodeInfo: () => ({ ...node.sysInfo(), nodeId: peers.nodeId }) })
  const made = { node, peers, server, client: new LocalTreeClient(node.tree, 'test'), url }
  nodes.push(made)
  return made
}

/** One round trip each way on every link: any event sent before it has arrived after it. */
async function barrier(...pairs: Array<[TestNode, string]>): Promise<void> {
  for (let i = 0; i < 2; i++) for (const [from, peer] of pairs) await from.client.list(`${peer}/sys`)
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mw-comp-in-'))
  await writeFile(join(dir, 'one.raw'), new Uint8Array(1 << 16).fill(1))
  await writeFile(join(dir, 'two.raw'), new Uint8Array(1 << 16).fill(2))
})

after(async () => {
  for (const n of nodes) { await n.peers.close(); await n.server.close(); await n.node.close() }
  await rm(dir, { recursive: true, force: true })
})

describe('composition inside one process', () => {
  test('in a cycle A↔B a change crosses once: A hears it as b/connector and connector, and nothing echoes back', async () => {
    const a = await makeNode('cyc-a')
    const b = await makeNode('cyc-b')
    await a.peers.add(parseConnectOption(`b=${b.url}`))
    await b.peers.add(parseConnectOption(`a=${a.url}`))
    await barrier([a, 'b'], [b, 'a']) // the announcements of the two connections are through
    const heardA: string[] = []
    const heardB: string[] = []
    a.node.tree.events.subscribe('', (path) => heardA.push(path))
    b.node.tree.events.subscribe('', (path) => heardB.push(path))
    await b.node.newConnector(`x file:${join(dir, 'one.raw')}`)
    await barrier([a, 'b'], [b, 'a'])
    assert.deepEqual(heardA.sort(), ['b/connector', 'connector'])
    assert.deepEqual(heardB, ['connector'])
    await barrier([a, 'b'], [b, 'a'])
    assert.equal(heardA.length + heardB.length, 3, 'still no echo after more round trips')
    assert.deepEqual((await a.client.list('connector')).map((e) => e.name), ['b.x', 'new', 'rm'])
    assert.deepEqual((await b.client.list('connector')).map((e) => e.name), ['new', 'rm', 'x'])
  })

  test('a request whose hop chain already names a node is refused by that node', async () => {
    const a = await makeNode('loop-a')
    const raw = await connectClient(a.url)
    try {
      await assert.rejects(raw.list('connector', ['node-x', 'node-loop-a']), (err: unknown) => err instanceof MemweaveError && /composition loop/.test(err.message))
      assert.ok(Array.isArray(await raw.list('connector', ['node-x'])))
    } finally {
      await raw.disconnect()
    }
  })

  test('per-peer limits: requests beyond the limit fail fast with "limit" instead of queueing', async () => {
    const b = await makeNode('lim-b')
    const slow = new RegionMemory(0n, new Uint8Array(4096).fill(7))
    let release: () => void = () => {}
    slow.gate = new Promise((resolve) => { release = resolve })
    b.node.extraRoot.set('slow', () => memLeaf({ identity: 'slow', lifetime: new Lifetime('slow'), mem: slow }))
    const a = await makeNode('lim-a', { maxInFlight: 2 })
    await a.peers.add(parseConnectOption(`b=${b.url}`))
    const handles: number[] = []
    for (let i = 0; i < 3; i++) handles.push((await a.client.open('b/slow')).handle)
    const [h0 = 0, h1 = 0, h2 = 0] = handles
    const reads = [a.client.read(h0, [{ addr: 0n, length: 8 }]), a.client.read(h1, [{ addr: 0n, length: 8 }])]
    const refused = a.client.read(h2, [{ addr: 0n, length: 8 }]).finally(release)
    const [first, second, third] = await Promise.allSettled([...reads, refused])
    assert.equal(third?.status, 'rejected')
    assert.ok(third?.status === 'rejected' && third.reason instanceof MemweaveError && third.reason.kind === 'limit', 'the third read is refused')
    assert.equal(first?.status, 'fulfilled')
    assert.equal(second?.status, 'fulfilled')
    const again = await a.client.read(h2, [{ addr: 0n, length: 8 }])
    assert.equal(again[0]?.ok, true, 'once answered, the slot is free again')
  })

  test("removing a peer makes handles through it stale ('was removed') and drops its branch", async () => {
    const b = await makeNode('rm-b')
    await b.node.newConnector(`d file:${join(dir, 'one.raw')}`)
    const a = await makeNode('rm-a')
    await a.peers.add(parseConnectOption(`b=${b.url}`))
    const { handle } = await a.client.open('connector/b.d/mem')
    assert.equal((await a.client.read(handle, [{ addr: 0n, length: 4 }]))[0]?.ok, true)
    assert.match(await a.peers.remove('b'), /removed/)
    await assert.rejects(a.client.read(handle, [{ addr: 0n, length: 4 }]), /stale handle.*peer 'b' was removed/)
    assert.deepEqual((await a.client.list('')).map((e) => e.name), ['connector', 'os', 'sys'])
    assert.equal(b.node.tree.handles.size, 0, "B dropped A's references with the connection")
  })

  test("a peer's object replaced under a handle: the handle goes stale, a new open sees the new object", async () => {
    const b = await makeNode('re-b')
    await b.node.newConnector(`d file:${join(dir, 'one.raw')}`)
    const a = await makeNode('re-a')
    await a.peers.add(parseConnectOption(`b=${b.url}`))
    const old = await a.client.open('b/connector/d/mem')
    await b.node.store.removeConnector('d', true)
    await b.node.newConnector(`d file:${join(dir, 'two.raw')}`)
    await assert.rejects(a.client.read(old.handle, [{ addr: 0n, length: 1 }]), (err: unknown) => err instanceof MemweaveError && err.kind === 'stale')
    await assert.rejects(a.client.read(old.handle, [{ addr: 0n, length: 1 }]), (err: unknown) => err instanceof MemweaveError && err.kind === 'stale')
    const fresh = await a.client.open('b/connector/d/mem')
    assert.notEqual(fresh.handle, old.handle)
    const [byte] = await a.client.read(fresh.handle, [{ addr: 0n, length: 1 }])
    assert.deepEqual(byte?.ok === true ? [...byte.data] : [], [2])
  })

  test('many concurrent reads of one remote handle travel as a few requests (one round trip per batch)', async () => {
    const b = await makeNode('co-b')
    await b.node.newConnector(`d file:${join(dir, 'one.raw')}`)
    const a = await makeNode('co-a')
    await a.peers.add(parseConnectOption(`b=${b.url}`))
    const { handle } = await a.client.open('b/connector/d/mem')
    const before = a.peers.list()[0]?.traffic.messagesOut ?? 0
    const results = await Promise.all(Array.from({ length: 256 }, (_, i) => a.client.read(handle, [{ addr: BigInt(i * 8), length: 8 }])))
    assert.ok(results.every(([r]) => r?.ok === true && r.data.length === 8 && r.data.every((v) => v === 1)))
    const sent = (a.peers.list()[0]?.traffic.messagesOut ?? 0) - before
    assert.ok(sent <= 8, `256 reads went out as ${sent} requests`)
  })
})
