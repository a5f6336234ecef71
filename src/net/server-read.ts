/**
 * Serving one read request. With a mapped data ring (server-data-ring.ts)
 * and a reply big enough for it, regions are taken first and the source
 * reads straight into them (one copy; the reply may then overtake an older
 * one, ring-ledger.ts). Any other reply with a big piece is read into pooled
 * scratch memory (readInto): bytes a ring that is not mapped has room for go
 * there at once, the rest travel as their own WebSocket fragments beside a
 * small msgpack envelope (codec.ts), straight from the scratch, which goes
 * back to the pool (or is freed at once, scratch-pool.ts) when the socket
 * has taken the reply: the daemon holds a reply's memory exactly while the
 * budget counts it, with no copy and nothing left for the garbage collector.
 * Small replies take the source's own buffers.
 *
 * Placing in (or committing to) the ring and sending happen in one
 * synchronous step (`send`), so the daemon knows the order the client
 * copies ring pieces out in, which is what its consumed mark counts.
 *
 * A TCP client's read that asks for its data channel (data-channel.ts) is
 * read into pooled scratch too, and the scratch goes to the socket as it
 * is, behind a small header; it returns to the pool once the socket has
 * taken it.
 */
import { layOut } from '../mem/index.js'
import type { PieceResult, ReadIntoResult, ReadPiece } from '../mem/index.js'
import type { Tree } from '../tree/index.js'
import { encodeReadReply, ZERO_COPY_MIN_BYTES } from './codec.js'
import { encodeChannelHead } from './data-channel.js'
import type { ServerDataChannel } from './server-data-channel.js'
import { READ_SCRATCH } from './scratch-pool.js'
import type { RingLease, ServerDataRing } from './server-data-ring.js'

export interface ReadJob {
  readonly tree: Tree
  readonly owner: string
  readonly id: number
  readonly handle: number
  readonly pieces: readonly ReadPiece[]
  /** The connection's ring as it is when the reply goes out (it may be given up meanwhile). */
  readonly ring: () => ServerDataRing | undefined
  /**
   * Sends the reply's parts (called at most once, synchronously after placing); `done`, when given, runs exactly
   * once, when the socket has taken them or they were dropped (their memory may then be reused).
   */
  readonly send: (parts: Buffer[], done?: () => void) => void
  /** The data channel the client asked this reply to come on, while it is open. */
  readonly channel?: () => ServerDataChannel | undefined
  /** Sends a frame on that channel; `done` runs exactly once, when the socket has taken it or it was dropped. */
  readonly sendOnChannel?: (parts: Buffer[], channel: ServerDataChannel, done: () => void) => void
}

export async function serveRead(job: ReadJob): Promise<void> {
  const { tree, owner, id, handle, pieces } = job
  if (job.channel?.() !== undefined) { await serveOnChannel(job); return }
  if (job.ring()?.wants(pieces) === true) {
    const lease = job.ring()?.lease(pieces)
    if (lease !== undefined) { await serveIntoRing(job, lease); return }
  } else if (!pieces.some((p) => p.length >= ZERO_COPY_MIN_BYTES)) {
    const results = await tree.read(handle, pieces, owner)
    job.send(encodeReadReply(id, results, job.ring()?.place(results)))
    return
  }
  const { pieces: placed, bytes } = layOut(pieces)
  const scratch = READ_SCRATCH.take(bytes)
  let handedOver = false
  try {
    const outcomes = await tree.readInto(handle, placed, scratch, owner)
    const results = outcomes.map((r, i): PieceResult => (r.ok ? { ok: true, data: scratch.subarray(placed[i]!.at, placed[i]!.at + r.length) } : r))
    // What stays inline (no ring, or the ring was full) goes from the scratch, which is kept until the socket took it.
    const parts = encodeReadReply(id, results, job.ring()?.place(results))
    handedOver = true
    job.send(parts, () => READ_SCRATCH.give(scratch))
  } finally {
    if (!handedOver) READ_SCRATCH.give(scratch)
  }
}

/** The read goes straight into ring regions taken for it; every region is committed or cancelled. */
async function serveIntoRing(job: ReadJob, lease: RingLease): Promise<void> {
  const ring = job.ring()
  let outcomes: ReadIntoResult[]
  try {
    outcomes = await job.tree.readInto(job.handle, lease.pieces, lease.view, job.owner)
  } catch (err) {
    ring?.cancel(lease)
    throw err
  }
  const now = job.ring()
  const positions = now === ring ? ring?.commit(lease, outcomes) : undefined
  if (positions === undefined) ring?.cancel(lease)
  const results = outcomes.map((r, i): PieceResult => {
    if (!r.ok) return r
    const at = lease.pieces[i]!.at
    const data = lease.view.subarray(at, at + r.length)
    // Inline bytes must not point into the ring, which the client may reuse.
    return { ok: true, data: positions?.[i] === undefined && r.length > 0 ? Buffer.from(data) : data }
  })
  job.send(encodeReadReply(job.id, results, positions))
}

/** Reads into scratch and sends it on the data channel; if the channel went meanwhile, the reply goes on the WebSocket. */
async function serveOnChannel(job: ReadJob): Promise<void> {
  const { pieces: placed, bytes } = layOut(job.pieces)
  const scratch = READ_SCRATCH.take(bytes)
  let handedOver = false
  try {
    const outcomes = await job.tree.readInto(job.handle, placed, scratch, job.owner)
    const channel = job.channel?.()
    if (channel === undefined || job.sendOnChannel === undefined) {
      const parts = encodeReadReply(job.id, outcomes.map((r, i): PieceResult => (r.ok ? { ok: true, data: scratch.subarray(placed[i]!.at, placed[i]!.at + r.length) } : r)))
      handedOver = true
      job.send(parts, () => READ_SCRATCH.give(scratch))
      return
    }
    const { head } = encodeChannelHead(job.id, outcomes)
    const parts = [head]
    outcomes.forEach((r, i) => {
      if (!r.ok || r.length === 0) return
      const at = placed[i]!.at
      const last = parts[parts.length - 1]!
      // Pieces that lie back to back in the scratch go as one part.
      if (parts.length > 1 && last.buffer === scratch.buffer && last.byteOffset + last.length === scratch.byteOffset + at) parts[parts.length - 1] = Buffer.from(scratch.buffer, last.byteOffset, last.length + r.length)
      else parts.push(Buffer.from(scratch.buffer, scratch.byteOffset + at, r.length))
    })
    handedOver = true
    job.sendOnChannel(parts, channel, () => READ_SCRATCH.give(scratch))
  } finally {
    if (!handedOver) READ_SCRATCH.give(scratch)
  }
}
