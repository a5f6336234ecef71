/**
 * The daemon's side of a client's data ring: opening the offered file only
 * when it is safe to write memory into it, and placing big read replies in
 * it. The file must be a `memweave-*` regular file on tmpfs (memory never
 * lands on disk), opened without following a symlink or blocking on a FIFO,
 * with one link, mode 0600, owned by the daemon's user (any owner when the
 * daemon is root), of a bounded size, and must start with the magic and the
 * key the client sent in hello. Knowing the key of a 0600 file proves the
 * client can read it, i.e. it is the owner (Node cannot ask the socket for
 * the peer's uid). Anything else is refused with a reason, and the
 * connection carries its data inline as before.
 */
import { timingSafeEqual } from 'node:crypto'
import { closeSync, constants, fstatSync, open, readSync, writevSync } from 'node:fs'
import { statfs } from 'node:fs/promises'
import { basename, dirname, isAbsolute, normalize } from 'node:path'
import type { Logger } from 'pino'
import { MemweaveError, errnoCode, toMemweaveError } from '../errors/index.js'
import { mmapAddon } from '../addons/index.js'
import type { PieceResult, ReadIntoPiece, ReadIntoResult, ReadPiece } from '../mem/index.js'
import { RING_FILE_PREFIX, RING_HEADER_BYTES, RING_KEY_BYTES, RING_MAGIC, RingSpace } from './data-ring.js'
import { RingLedger } from './ring-ledger.js'
import type { RingRegion } from './ring-ledger.js'
import type { DataRingAnswer } from './messages.js'

export interface DataRingPolicy {
  /** Smallest and largest ring file accepted, header included. */
  readonly minFileBytes: number
  readonly maxFileBytes: number
  /** A read reply goes through the ring only when its pieces of at least minPieceBytes add up to minReplyBytes. */
  readonly minReplyBytes: number
  readonly minPieceBytes: number
}

export const DEFAULT_DATA_RING_POLICY: Readonly<DataRingPolicy> = {
  minFileBytes: 1024 * 1024,
  maxFileBytes: 256 * 1024 * 1024,
  minReplyBytes: 64 * 1024,
  minPieceBytes: 1024,
}

export function resolveDataRingPolicy(policy: Partial<DataRingPolicy>): DataRingPolicy {
  const resolved = { ...DEFAULT_DATA_RING_POLICY, ...policy }
  for (const [name, value] of Object.entries(resolved)) {
    if (!Number.isSafeInteger(value) || value < 0) throw new MemweaveError('config', 'invalid_argument', `data ring setting ${name} must be a non-negative integer, got ${value}`)
  }
  // Positions are uint32 with at least two laps per epoch (data-ring.ts).
  if (resolved.maxFileBytes > 2 ** 31 || resolved.minFileBytes <= RING_HEADER_BYTES || resolved.minFileBytes > resolved.maxFileBytes) {
    throw new MemweaveError('config', 'invalid_argument', `data ring file sizes must satisfy ${RING_HEADER_BYTES} < minFileBytes <= maxFileBytes <= 2 GiB`)
  }
  return resolved
}

const TMPFS_MAGIC = 0x01021994
const RAMFS_MAGIC = 0x858458f6
const SAFE_NAME = /^[A-Za-z0-9._-]+$/

export type DataRingOpening = { readonly ok: true; readonly ring: ServerDataRing } | { readonly ok: false; readonly reason: string }

const openFd = (path: string, flags: number): Promise<number> =>
  new Promise((resolve, reject) => open(path, flags, (err, fd) => (err === null ? resolve(fd) : reject(err))))

/** Opens and checks an offered ring file; a refusal says why, in words for logs (never the key). */
export async function openDataRing(path: string, key: Uint8Array, policy: DataRingPolicy, log: Logger): Promise<DataRingOpening> {
  const name = basename(path)
  if (!isAbsolute(path) || normalize(path) !== path || !name.startsWith(RING_FILE_PREFIX) || !SAFE_NAME.test(name)) {
    return { ok: false, reason: `the ring file must be an absolute, normalized path to a ${RING_FILE_PREFIX}* file` }
  }
  if (key.length !== RING_KEY_BYTES) return { ok: false, reason: `the ring key must be ${RING_KEY_BYTES} bytes` }
  // Checked before opening too, so nothing but tmpfs is ever opened (opening can have effects elsewhere).
  const directoryRefusal = await notOnTmpfs(dirname(path), 'directory')
  if (directoryRefusal !== undefined) return { ok: false, reason: directoryRefusal }
  let fd: number
  try {
    fd = await openFd(path, constants.O_RDWR | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY)
  } catch (err) {
    const code = errnoCode(err) || 'error'
    return { ok: false, reason: code === 'ELOOP' ? 'the ring file is a symlink' : `cannot open the ring file (${code})` }
  }
  let refusal: string | undefined
  // The size is taken once, when checked; a client that changes it later only upsets its own ring.
  let sizeBytes = 0
  let ownFile = false
  try {
    const info = fstatSync(fd)
    sizeBytes = info.size
    // Mapped only when the file is the daemon's own user's (see ServerDataRing).
    ownFile = info.uid === process.geteuid?.()
    refusal = checkFile(fd, sizeBytes, policy) ?? await notOnTmpfs(`/proc/self/fd/${fd}`, 'file') ?? checkHeader(fd, key)
  } catch (err) {
    refusal = toMemweaveError(err, 'net', 'cannot inspect the ring file').message
  }
  if (refusal !== undefined) {
    closeSync(fd)
    return { ok: false, reason: refusal }
  }
  return { ok: true, ring: new ServerDataRing(fd, sizeBytes, policy, log, ownFile) }
}

function checkFile(fd: number, sizeBytes: number, policy: DataRingPolicy): string | undefined {
  const info = fstatSync(fd)
  if (!info.isFile()) return 'the ring file is not a regular file'
  if (info.nlink !== 1) return `the ring file has ${info.nlink} links, expected 1`
  if ((info.mode & 0o077) !== 0) return `the ring file is open to others (mode ${(info.mode & 0o777).toString(8)}, expected 600)`
  const euid = process.geteuid?.()
  if (euid !== undefined && euid !== 0 && info.uid !== euid) return `the ring file belongs to uid ${info.uid}, not to the daemon's user`
  if (sizeBytes < policy.minFileBytes || sizeBytes > policy.maxFileBytes) {
    return `a ring of ${sizeBytes} bytes is outside the daemon's bounds ${policy.minFileBytes}..${policy.maxFileBytes}`
  }
  return undefined
}

async function notOnTmpfs(path: string, what: string): Promise<string | undefined> {
  let type: number
  try {
    type = (await statfs(path)).type
  } catch (err) {
    const code = errnoCode(err) || 'error'
    return `cannot tell the file system of the ring ${what} (${code})`
  }
  return type === TMPFS_MAGIC || type === RAMFS_MAGIC ? undefined : `the ring ${what} is not on tmpfs (file system type 0x${type.toString(16)})`
}

function checkHeader(fd: number, key: Uint8Array): string | undefined {
  const header = Buffer.alloc(RING_MAGIC.length + RING_KEY_BYTES)
  const got = readSync(fd, header, 0, header.length, 0)
  if (got !== header.length || !header.subarray(0, RING_MAGIC.length).equals(RING_MAGIC)) return 'the ring file has no memweave ring header'
  if (!timingSafeEqual(header.subarray(RING_MAGIC.length), key)) return 'the ring key does not match the file'
  return undefined
}

interface Run { readonly offset: number; readonly buffers: Uint8Array[]; bytes: number }

/** Ring regions taken for a read that goes straight into the mapped ring: piece i lands at view[pieces[i].at]. */
export interface RingLease {
  readonly view: Uint8Array
  readonly pieces: ReadIntoPiece[]
  /** One per piece; undefined for an empty piece. */
  readonly regions: (RingRegion | undefined)[]
}

/**
 * An accepted ring: places reply data in it, frees what the client consumed,
 * closes with the connection. With the mmap addon, and a ring file owned by
 * the daemon's own user (so a client that shrinks it to crash the daemon
 * with SIGBUS could as well have killed it), the ring is also mapped, on the
 * first read big enough for it: the source is then read straight into it
 * (lease/commit), one copy instead of a read into scratch and a pwritev.
 */
export class ServerDataRing {
  private fd: number | undefined
  private readonly space: RingSpace
  private readonly ledger: RingLedger
  /** The mapped ring data (after the header); undefined until mapped, or when it cannot be. */
  private view: Uint8Array | undefined
  private mapping: 'unmapped' | 'mapped' | 'refused'
  /** Ring bytes from offset 0 allocated on tmpfs so far (the first lap fills them in order). */
  private allocatedBytes = 0
  readonly stats = { pieces: 0, bytes: 0, fullPieces: 0, mappedPieces: 0 }

  constructor(fd: number, readonly sizeBytes: number, private readonly policy: DataRingPolicy, private readonly log: Logger, ownFile = false) {
    this.fd = fd
    this.space = new RingSpace(sizeBytes - RING_HEADER_BYTES)
    this.ledger = new RingLedger(this.space)
    this.mapping = ownFile ? 'unmapped' : 'refused'
  }

  get open(): boolean {
    return this.fd !== undefined
  }

  /** Whether reads go straight into the ring (after the first big one). */
  get mapped(): boolean {
    return this.view !== undefined
  }

  /** The client has copied out everything up to this ring position (the end of the last piece it took). */
  release(position: number): void {
    if (!this.ledger.release(position)) this.log.debug({ position }, 'ignoring a consumed mark that ends no piece in flight')
  }

  /** Whether a read of these piece lengths would go through the ring (if it all succeeds and fits). */
  wants(lengths: readonly { readonly length: number }[]): boolean {
    if (this.fd === undefined) return false
    let eligible = 0
    for (const p of lengths) if (p.length >= this.policy.minPieceBytes) eligible += p.length
    return eligible > 0 && eligible >= this.policy.minReplyBytes
  }

  /**
   * Regions for a read straight into the mapped ring, every non-empty piece
   * in it, or undefined (not mapped, or no room now: the caller reads into
   * scratch and place()s what fits). Each lease ends in commit() or cancel().
   */
  lease(pieces: readonly ReadPiece[]): RingLease | undefined {
    const view = this.mapView()
    if (view === undefined) return undefined
    const lengths = pieces.filter((p) => p.length > 0).map((p) => p.length)
    const taken = this.ledger.takeAll(lengths)
    if (taken === undefined) { this.stats.fullPieces += lengths.length; return undefined }
    if (!this.allocate(taken)) { for (const region of taken) this.ledger.drop(region); return undefined }
    let next = 0
    const regions = pieces.map((p) => (p.length > 0 ? taken[next++] : undefined))
    return {
      view,
      regions,
      pieces: pieces.map((p, i) => ({ addr: p.addr, length: p.length, at: regions[i] === undefined ? 0 : this.space.offsetOf(regions[i].position) })),
    }
  }

  /**
   * The read into a lease is done: the ring position of each piece that goes
   * through the ring (the rest, failed or empty, inline), its region marked
   * sent. Call right before sending the reply. After the ring was closed
   * meanwhile, undefined: the caller copies the bytes out and sends inline.
   */
  commit(lease: RingLease, results: readonly ReadIntoResult[]): Array<number | undefined> | undefined {
    if (this.fd === undefined) { this.cancel(lease); return undefined }
    return lease.regions.map((region, i) => {
      if (region === undefined) return undefined
      const r = results[i]
      if (r?.ok !== true || r.length === 0) { this.ledger.drop(region); return undefined }
      this.ledger.sending(region, r.length)
      this.stats.pieces++
      this.stats.mappedPieces++
      this.stats.bytes += r.length
      return region.position
    })
  }

  /** Frees a lease whose reply will not be sent. */
  cancel(lease: RingLease): void {
    for (const region of lease.regions) if (region !== undefined && !region.freed) this.ledger.drop(region)
  }

  /**
   * Writes the reply's big pieces into the ring; their positions (undefined:
   * inline), or undefined when nothing went to the ring. Called right before
   * the reply is sent. A piece that does not fit now stays inline; never blocks.
   */
  place(results: readonly PieceResult[]): Array<number | undefined> | undefined {
    const fd = this.fd
    if (fd === undefined) return undefined
    const { minPieceBytes, minReplyBytes } = this.policy
    let eligible = 0
    for (const r of results) if (r.ok && r.data.length >= minPieceBytes) eligible += r.data.length
    if (eligible < minReplyBytes || eligible === 0) return undefined
    const positions: Array<number | undefined> = results.map(() => undefined)
    const taken: { region: RingRegion; bytes: number }[] = []
    const runs: Run[] = []
    results.forEach((r, i) => {
      if (!r.ok || r.data.length < minPieceBytes) return
      const region = this.ledger.take(r.data.length)
      if (region === undefined) { this.stats.fullPieces++; return }
      taken.push({ region, bytes: r.data.length })
      positions[i] = region.position
      const offset = this.space.offsetOf(region.position)
      const last = runs[runs.length - 1]
      if (last !== undefined && last.offset + last.bytes === offset) { last.buffers.push(r.data); last.bytes += r.data.length } else runs.push({ offset, buffers: [r.data], bytes: r.data.length })
    })
    if (runs.length === 0) return undefined
    try {
      for (const run of runs) {
        const written = writevSync(fd, run.buffers, RING_HEADER_BYTES + run.offset)
        if (written !== run.bytes) throw new MemweaveError('net', 'io', `short write to the data ring: ${written} of ${run.bytes} bytes`)
      }
    } catch (err) {
      // tmpfs full, say: this reply goes inline, and so does everything after (the ring is given up).
      for (const { region } of taken) this.ledger.drop(region)
      this.log.warn({ err: toMemweaveError(err, 'net', 'cannot write to the data ring') }, 'data ring write failed; sending data inline from now on')
      this.close()
      return undefined
    }
    for (const { region, bytes } of taken) this.ledger.sending(region, bytes)
    for (const run of runs) { this.stats.pieces += run.buffers.length; this.stats.bytes += run.bytes }
    return positions
  }

  close(): void {
    const fd = this.fd
    if (fd === undefined) return
    this.fd = undefined
    // The mapping goes with the garbage collector, once no read still in flight writes into it.
    this.view = undefined
    try {
      closeSync(fd)
    } catch (err) {
      this.log.debug({ err }, 'closing the data ring failed')
    }
  }

  /**
   * Allocates the ring's blocks under new regions before the source writes
   * into them through the mapping (a write into a hole of a full tmpfs would
   * be SIGBUS): on the first lap only, as far as it has come. No room: the
   * ring is not mapped any more, and replies go the copying way (or inline).
   */
  private allocate(regions: readonly RingRegion[]): boolean {
    const fd = this.fd
    const addon = mmapAddon()
    if (fd === undefined || addon === undefined) return false
    const end = Math.max(...regions.map((r) => this.space.offsetOf(r.position) + r.length))
    if (end <= this.allocatedBytes) return true
    try {
      addon.allocate(fd, RING_HEADER_BYTES + this.allocatedBytes, end - this.allocatedBytes)
      this.allocatedBytes = end
      return true
    } catch (err) {
      this.mapping = 'refused'
      this.view = undefined
      this.log.warn({ err: toMemweaveError(err, 'net', 'cannot allocate the data ring') }, 'data ring blocks cannot be allocated; no longer reading straight into it')
      return false
    }
  }

  /** Maps the ring on first use (blocks are allocated region by region: allocate()). */
  private mapView(): Uint8Array | undefined {
    if (this.mapping === 'mapped' || this.mapping === 'refused' || this.fd === undefined) return this.view
    const addon = mmapAddon()
    if (addon === undefined) { this.mapping = 'refused'; return undefined }
    try {
      const buffer = addon.map(this.fd, this.sizeBytes)
      this.view = new Uint8Array(buffer, RING_HEADER_BYTES, this.sizeBytes - RING_HEADER_BYTES)
      this.mapping = 'mapped'
      this.log.debug({ sizeBytes: this.sizeBytes }, 'data ring mapped: reads go straight into it')
    } catch (err) {
      this.mapping = 'refused'
      this.log.info({ err: toMemweaveError(err, 'net', 'cannot map the data ring') }, 'data ring not mapped; replies are copied into it')
    }
    return this.view
  }
}

/** The daemon's answer to a hello that offered a ring, and the ring when accepted. Never throws. */
export async function answerRingOffer(
  offer: { readonly path: string; readonly key: Uint8Array }, local: boolean, policy: DataRingPolicy, log: Logger,
): Promise<{ readonly answer: DataRingAnswer; readonly ring?: ServerDataRing }> {
  if (!local) return { answer: { accepted: false, reason: 'shared data rings are only for clients on a unix socket' } }
  let opening: DataRingOpening
  try {
    opening = await openDataRing(offer.path, offer.key, policy, log)
  } catch (err) {
    log.warn({ err }, 'checking an offered data ring failed')
    return { answer: { accepted: false, reason: toMemweaveError(err, 'net', 'cannot check the ring file').message } }
  }
  if (!opening.ok) {
    log.info({ path: offer.path, reason: opening.reason }, 'refusing an offered data ring; data goes inline')
    return { answer: { accepted: false, reason: opening.reason } }
  }
  log.debug({ path: offer.path, sizeBytes: opening.ring.sizeBytes }, 'data ring accepted')
  return { answer: { accepted: true, sizeBytes: opening.ring.sizeBytes }, ring: opening.ring }
}
