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
import type { PieceResult } from '../mem/index.js'
import { RING_FILE_PREFIX, RING_HEADER_BYTES, RING_KEY_BYTES, RING_MAGIC, RingSpace } from './data-ring.js'
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
  try {
    sizeBytes = fstatSync(fd).size
    refusal = checkFile(fd, sizeBytes, policy) ?? await notOnTmpfs(`/proc/self/fd/${fd}`, 'file') ?? checkHeader(fd, key)
  } catch (err) {
    refusal = toMemweaveError(err, 'net', 'cannot inspect the ring file').message
  }
  if (refusal !== undefined) {
    closeSync(fd)
    return { ok: false, reason: refusal }
  }
  return { ok: true, ring: new ServerDataRing(fd, sizeBytes, policy, log) }
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

/** An accepted ring: places reply data in it, frees what the client consumed, closes with the connection. */
export class ServerDataRing {
  private fd: number | undefined
  private readonly space: RingSpace
  readonly stats = { pieces: 0, bytes: 0, fullPieces: 0 }

  constructor(fd: number, readonly sizeBytes: number, private readonly policy: DataRingPolicy, private readonly log: Logger) {
    this.fd = fd
    this.space = new RingSpace(sizeBytes - RING_HEADER_BYTES)
  }

  get open(): boolean {
    return this.fd !== undefined
  }

  /** The client has copied out everything before this ring position. */
  release(position: number): void {
    if (!this.space.release(position)) this.log.debug({ position }, 'ignoring a consumed mark outside the ring span')
  }

  /** Whether a read of these piece lengths would go through the ring (if it all succeeds and fits). */
  wants(lengths: readonly { readonly length: number }[]): boolean {
    if (this.fd === undefined) return false
    let eligible = 0
    for (const p of lengths) if (p.length >= this.policy.minPieceBytes) eligible += p.length
    return eligible > 0 && eligible >= this.policy.minReplyBytes
  }

  /**
   * Writes the reply's big pieces into the ring; their positions (undefined:
   * inline), or undefined when nothing went to the ring. Called right before
   * the reply is sent, so replies reach the client in the order their regions
   * were taken. A piece that does not fit now stays inline; never blocks.
   */
  place(results: readonly PieceResult[]): Array<number | undefined> | undefined {
    const fd = this.fd
    if (fd === undefined) return undefined
    const { minPieceBytes, minReplyBytes } = this.policy
    let eligible = 0
    for (const r of results) if (r.ok && r.data.length >= minPieceBytes) eligible += r.data.length
    if (eligible < minReplyBytes || eligible === 0) return undefined
    const start = this.space.mark()
    const positions = new Array<number | undefined>(results.length)
    const runs: Run[] = []
    results.forEach((r, i) => {
      if (!r.ok || r.data.length < minPieceBytes) return
      const position = this.space.reserve(r.data.length)
      if (position === undefined) { this.stats.fullPieces++; return }
      positions[i] = position
      const offset = this.space.offsetOf(position)
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
      this.space.rollback(start)
      this.log.warn({ err: toMemweaveError(err, 'net', 'cannot write to the data ring') }, 'data ring write failed; sending data inline from now on')
      this.close()
      return undefined
    }
    for (const run of runs) { this.stats.pieces += run.buffers.length; this.stats.bytes += run.bytes }
    return positions
  }

  close(): void {
    const fd = this.fd
    if (fd === undefined) return
    this.fd = undefined
    try {
      closeSync(fd)
    } catch (err) {
      this.log.debug({ err }, 'closing the data ring failed')
    }
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
