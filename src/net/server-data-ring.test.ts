/**
 * The daemon's ring on a real tmpfs file: the policy's bounds, which reply
 * pieces go to the ring, that contiguous pieces land back to back, and that
 * a full ring leaves pieces inline; and, with the mmap addon, reads straight
 * into the mapped ring (leases) committed out of order, failed and cancelled,
 * never leaving a region taken. Refusals are covered end to end in
 * test/protocol-shm-hostile.test.ts.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { closeSync, fstatSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { pino } from 'pino'
import { MemweaveError } from '../errors/index.js'
import type { PieceResult } from '../mem/index.js'
import { RING_HEADER_BYTES, RING_KEY_BYTES, RING_MAGIC } from './data-ring.js'
import { mmapAddonAbsence } from '../addons/index.js'
import { DEFAULT_DATA_RING_POLICY, openDataRing, resolveDataRingPolicy } from './server-data-ring.js'
import type { ServerDataRing } from './server-data-ring.js'

const log = pino({ level: 'silent' })
let dir: string
before(async () => { dir = await mkdtemp('/dev/shm/memweave-unit-') })
after(() => rm(dir, { recursive: true, force: true }))

async function ringOf(sizeBytes: number, policy = DEFAULT_DATA_RING_POLICY): Promise<{ ring: ServerDataRing; read: (position: number, length: number) => Buffer; allocatedBytes: () => number }> {
  const path = join(dir, `memweave-unit-${randomBytes(4).toString('hex')}`)
  const key = randomBytes(RING_KEY_BYTES)
  const fd = openSync(path, 'wx+', 0o600)
  ftruncateSync(fd, sizeBytes)
  writeSync(fd, Buffer.concat([RING_MAGIC, key]), 0, RING_MAGIC.length + RING_KEY_BYTES, 0)
  const opening = await openDataRing(path, key, policy, log)
  assert.ok(opening.ok, opening.ok ? '' : opening.reason)
  after(() => { opening.ring.close(); closeSync(fd) })
  const capacity = sizeBytes - RING_HEADER_BYTES
  return {
    ring: opening.ring,
    allocatedBytes: () => fstatSync(fd).blocks * 512,
    read: (position, length) => {
      const out = Buffer.alloc(length)
      readSync(fd, out, 0, length, RING_HEADER_BYTES + (position % capacity))
      return out
    },
  }
}

const piece = (length: number, fill: number): PieceResult => ({ ok: true, data: Buffer.alloc(length, fill) })

test('policy bounds are checked', () => {
  assert.deepEqual(resolveDataRingPolicy({}), DEFAULT_DATA_RING_POLICY)
  for (const bad of [{ minFileBytes: 100 }, { maxFileBytes: 2 ** 32 }, { minFileBytes: 2 << 20, maxFileBytes: 1 << 20 }, { minReplyBytes: -1 }, { minPieceBytes: 0.5 }]) {
    assert.throws(() => resolveDataRingPolicy(bad), (err: unknown) => err instanceof MemweaveError && err.kind === 'invalid_argument')
  }
})

test('small replies and small pieces stay inline; big ones land back to back', async () => {
  const { ring, read } = await ringOf(1 << 20)
  const { minPieceBytes, minReplyBytes } = DEFAULT_DATA_RING_POLICY
  assert.equal(ring.place([piece(minReplyBytes - 1, 1)]), undefined, 'a reply under the threshold')
  assert.equal(ring.place([piece(minPieceBytes - 1, 1), { ok: false, error: new MemweaveError('mem', 'unmapped', 'x') }]), undefined)
  const results = [piece(40_000, 2), piece(minPieceBytes - 1, 3), { ok: false, error: new MemweaveError('mem', 'unmapped', 'x') } as const, piece(30_000, 4)]
  const positions = ring.place(results)
  assert.ok(positions !== undefined)
  const [a, small, failed, b] = positions
  assert.equal(small, undefined)
  assert.equal(failed, undefined)
  assert.ok(a !== undefined && b === a + 40_000, 'the two big pieces are contiguous (one writev)')
  assert.ok(read(a, 40_000).equals(Buffer.alloc(40_000, 2)))
  assert.ok(read(b, 30_000).equals(Buffer.alloc(30_000, 4)))
  assert.deepEqual(ring.stats, { pieces: 2, bytes: 70_000, fullPieces: 0, mappedPieces: 0 })
})

test('a full ring leaves pieces inline until the client reports them consumed', async () => {
  const { ring, read } = await ringOf(1 << 20) // 1 MiB - 4 KiB of ring
  const first = ring.place([piece(600_000, 5)])?.[0]
  assert.equal(first, 0)
  assert.equal(ring.place([piece(600_000, 6)]), undefined, 'no room: inline')
  assert.equal(ring.stats.fullPieces, 1)
  ring.release(600_000)
  const again = ring.place([piece(600_000, 7)])?.[0]
  assert.ok(again !== undefined)
  assert.ok(read(again, 600_000).equals(Buffer.alloc(600_000, 7)))
  ring.close()
  assert.equal(ring.place([piece(600_000, 8)]), undefined, 'a closed ring places nothing')
})

const ok = (length: number): { ok: true; length: number } => ({ ok: true, length })

test('leases of a mapped ring: out-of-order commits, failures and cancels free every region', { skip: mmapAddonAbsence() ?? false }, async () => {
  const { ring, read, allocatedBytes } = await ringOf(1 << 20) // 1 MiB - 4 KiB of ring
  const capacity = (1 << 20) - RING_HEADER_BYTES
  const first = ring.lease([{ addr: 0n, length: 300_000 }])
  assert.ok(first !== undefined && ring.mapped, 'the first big read maps the ring')
  // Only the blocks under taken regions are allocated (so writing through the mapping never meets a hole), not the whole ring.
  const allocated = allocatedBytes()
  assert.ok(allocated >= RING_HEADER_BYTES + 300_000 && allocated < 600_000, `${allocated} bytes allocated after one 300 kB region`)
  const second = ring.lease([{ addr: 0n, length: 300_000 }, { addr: 0n, length: 0 }, { addr: 0n, length: 100_000 }])
  assert.ok(second !== undefined)
  assert.equal(second.regions[1], undefined, 'an empty piece takes no region')
  assert.equal(ring.lease([{ addr: 0n, length: 400_000 }]), undefined, 'no room for all of it: no lease (the caller falls back)')
  // The source writes into the regions; what the file holds is what was written through the mapping.
  second.view.fill(9, second.pieces[0]!.at, second.pieces[0]!.at + 300_000)
  second.view.fill(8, second.pieces[2]!.at, second.pieces[2]!.at + 50_000)
  // The second read finishes first; its last piece came back short, and the first of its pieces is the ring's second region.
  const positions = ring.commit(second, [ok(300_000), ok(0), ok(50_000)])
  assert.ok(positions !== undefined && positions[0] === 300_000 && positions[1] === undefined && positions[2] === 600_000)
  assert.ok(read(300_000, 300_000).equals(Buffer.alloc(300_000, 9)))
  assert.ok(read(600_000, 50_000).equals(Buffer.alloc(50_000, 8)))
  // The client reports the end of the short piece: the first lease is still out, so nothing is free yet.
  ring.release(650_000)
  assert.equal(ring.lease([{ addr: 0n, length: capacity }]), undefined, 'the first region still holds the ring (the second alone would free all)')
  // The first read fails: its region is freed without being sent, and with it everything up to the second lease's end.
  const failed = ring.commit(first, [{ ok: false, error: new MemweaveError('mem', 'unmapped', 'x') }])
  assert.deepEqual(failed, [undefined])
  const whole = ring.lease([{ addr: 0n, length: capacity }])
  assert.ok(whole !== undefined, 'every region is free again: the whole ring fits')
  ring.cancel(whole)
  ring.cancel(whole) // twice is harmless
  const afterCancel = ring.lease([{ addr: 0n, length: capacity }])
  assert.ok(afterCancel !== undefined, 'a cancelled lease frees its regions')
  ring.close()
  // A read still in flight after the ring closed writes into a mapping that stays until collected, and is not sent.
  afterCancel.view.fill(1, 0, 4096)
  assert.equal(ring.commit(afterCancel, [ok(capacity)]), undefined)
  assert.equal(ring.lease([{ addr: 0n, length: 1000 }]), undefined, 'a closed ring leases nothing')
  assert.deepEqual({ pieces: ring.stats.pieces, mappedPieces: ring.stats.mappedPieces }, { pieces: 2, mappedPieces: 2 })
})

test('without the mapping (a ring file of another user, or no addon) there are no leases; place() still works', async () => {
  const { ring } = await ringOf(1 << 20)
  if (mmapAddonAbsence() === undefined) {
    // Same user here: mapped. A foreign owner cannot be made without root; openDataRing's rule is checked by reading it: ownFile.
    assert.ok(ring.lease([{ addr: 0n, length: 70_000 }]) !== undefined)
  } else {
    assert.equal(ring.lease([{ addr: 0n, length: 70_000 }]), undefined)
  }
  assert.ok(ring.place([piece(70_000, 3)]) !== undefined || ring.mapped, 'place works beside leases')
})
