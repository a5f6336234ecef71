/**
 * A TCP data-channel client that stops reading (protocol 1.6,
 * server-data-channel.ts), over real loopback TCP. The stalled client is a
 * raw one: it completes the channel upgrade, asks for far more read replies
 * on the channel than the daemon may hold, and never reads the channel (its
 * receive buffer fills, then the daemon's send buffer). The daemon stops
 * reading its requests once its unflushed replies pass maxBufferedBytes or
 * it holds its share of the memory budget (half at most), so it holds no
 * more than that, not what it asked for; another client with its own channel
 * keeps getting its bytes at once (a stalled client's request waiting behind
 * its own share used to hold every newcomer up until the stall cutoff);
 * where stalled clients leave another no room, they are cut off after
 * stallCutoffMs; and once they go every byte of budget, every scratch buffer
 * and their handles come back.
 */
import assert from 'node:assert/strict'
import type { Socket } from 'node:net'
import { describe, test } from 'node:test'
import { connectClient } from '../src/net/index.js'
import type { ProtocolClient, ServerLimits } from '../src/net/index.js'
import { READ_SCRATCH } from '../src/net/scratch-pool.js'
import { rawChannel } from './channel-kit.js'
import { KERNEL_BASE, makeTree, RawPeer, serve } from './protocol-kit.js'
import type { TestServer, TestTree } from './protocol-kit.js'
import { waitFor } from './wait-for.js'

const MIB = 1 << 20
const MEM_BYTES = 8 * MIB
/** What the stalled client asks for, in 1 MiB reads: far beyond any budget here. */
const STALLED_READS = 160

interface Stalled { readonly peer: RawPeer; readonly channel: Socket; readonly owner: string }

/** A raw client with a channel it never reads, and STALLED_READS 1 MiB reads asked for on it. */
async function stalledClient(server: TestServer): Promise<Stalled> {
  const peer = await RawPeer.connect(server.tcpUrl)
  const hello = await peer.hello(server.tcpToken)
  const owner = (hello.result as { connection: string }).connection
  const channel = await rawChannel(peer, server.tcpUrl, 1)
  channel.pause()
  peer.send({ id: 2, op: 'open', path: 'data/kmem' })
  const handle = ((await peer.reply(2)).result as { handle: number }).handle
  for (let i = 0; i < STALLED_READS; i++) {
    peer.send({ id: 10 + i, op: 'read', handle, channel: true, pieces: [{ addr: KERNEL_BASE + BigInt((i % 8) * MIB), length: MIB }] })
  }
  return { peer, channel, owner }
}

/** A well-behaved client with its own channel reads `rounds` MiB and checks the bytes; the budget never passes its capacity. */
async function bystanderReads(server: TestServer, rounds: number): Promise<ProtocolClient> {
  const other = await connectClient(server.tcpUrl, { token: server.tcpToken, name: 'bystander' })
  assert.equal(await other.openDataChannel(), true)
  const { handle } = await other.open('data/kmem')
  for (let round = 0; round < rounds; round++) {
    const target = new Uint8Array(MIB)
    const from = (round % 8) * MIB
    const [r] = await other.readInto(handle, [{ addr: KERNEL_BASE + BigInt(from), length: MIB, at: 0 }], target)
    assert.equal(r?.ok && r.length, MIB)
    assert.equal(target[MIB - 1], ((from + MIB - 1) * 7) & 0xff)
    const budget = server.server.budget()
    assert.ok(budget.usedBytes <= budget.capacityBytes && budget.peakBytes <= budget.capacityBytes, `within the budget: ${JSON.stringify(budget)}`)
  }
  assert.ok(other.dataChannel.frames >= rounds, 'the bystander was answered on its own channel')
  await other.close(handle)
  return other
}

async function released(server: TestServer, t: TestTree, owner: string): Promise<void> {
  await waitFor('the budget and scratch to come back', () => server.server.budget().usedBytes === 0 && READ_SCRATCH.stats.inUse === 0)
  await waitFor('the stalled client\'s handle to be dropped', () => t.tree.handles.ownedBy(owner) === 0)
}

async function withServer(limits: Partial<ServerLimits>, body: (server: TestServer, t: TestTree) => Promise<void>): Promise<void> {
  const t = makeTree({ memBytes: MEM_BYTES })
  const server = await serve(t.tree, { limits })
  try {
    await body(server, t)
  } finally {
    await server.stop()
  }
}

describe('a data-channel client that stops reading', () => {
  test('holds at most its share, not what it asked for; another client is served at once; all comes back when it goes', async () => {
    // Backpressure set high and no stall cut-off in sight: the share is the bound, and the bystander cannot wait for a cut-off.
    await withServer({ budgetBytes: 16 * MIB, maxBufferedBytes: 64 * MIB, stallCutoffMs: 600_000 }, async (server, t) => {
      const stalled = await stalledClient(server)
      await waitFor('the stalled client to hold its share and wait behind it', () => server.server.budget().waiting === 1 && server.server.budget().usedBytes >= 7 * MIB)
      const other = await bystanderReads(server, 16)
      // It holds at most its share (half the budget) plus one reply's framing, not the 160 MiB it asked for.
      const held = server.server.budget()
      assert.ok(held.peakBytes <= held.capacityBytes / 2 + MIB, `the stalled client's hold is bounded by its share: ${JSON.stringify(held)}`)
      assert.ok(t.tree.handles.ownedBy(stalled.owner) > 0, 'the stalled client is still connected')
      await other.disconnect()
      stalled.channel.destroy()
      stalled.peer.ws.terminate()
      await stalled.peer.closed
      await released(server, t, stalled.owner)
    })
  })

  test('stalled clients that leave another no room are cut off after stallCutoffMs; the other is served; all comes back', async () => {
    // A budget of three 1 MiB reads: each stalled client holds one reply that does not move and waits behind its
    // share for the next, and the room left is short of one read (each reply is a little over 1 MiB).
    await withServer({ budgetBytes: 3 * MIB, stallCutoffMs: 500 }, async (server, t) => {
      const stalled = [await stalledClient(server), await stalledClient(server)]
      await waitFor('both stalled clients to hold a reply and wait for more', () => server.server.budget().holders === 2 && server.server.budget().waiting === 2)
      const other = await bystanderReads(server, 16)
      for (const s of stalled) assert.equal((await s.peer.closed).code, 1006, 'cut off: dropped without a closing handshake')
      await other.disconnect()
      for (const s of stalled) s.channel.destroy()
      for (const s of stalled) await released(server, t, s.owner)
    })
  })
})
