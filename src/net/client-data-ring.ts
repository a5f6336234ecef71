/**
 * The client's side of the data ring: it creates the ring file (its own,
 * 0600, on tmpfs) before hello, unlinks it as soon as the daemon has
 * answered (so a crash leaves nothing behind), and copies each ring piece
 * out into a fresh buffer the moment its reply arrives, before anyone sees
 * the reply, so the daemon may reuse the space once told. A readInto reply
 * is copied straight into the caller's target instead (one copy out).
 * With the mmap addon the ring is mapped here too, and each copy out is a
 * memory copy instead of a preadv.
 */
import { randomBytes } from 'node:crypto'
import { closeSync, constants, fchmodSync, ftruncateSync, openSync, readvSync, unlinkSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { MemweaveError, toMemweaveError } from '../errors/index.js'
import { mmapAddon } from '../addons/index.js'
import type { ClientLog } from './client-log.js'
import { DEFAULT_RING_DIR, DEFAULT_RING_FILE_BYTES, RING_FILE_PREFIX, RING_HEADER_BYTES, RING_KEY_BYTES, RING_MAGIC, ringEpoch } from './data-ring.js'
import { isFields, protocolError, uintField } from './field-guards.js'
import type { DataRingAnswer } from './messages.js'

export interface DataRingOptions {
  /** Where the ring file is made; must be tmpfs for the daemon to accept it (default /dev/shm). */
  dir?: string
  /** Size of the ring file, header included (default 64 MiB; the daemon bounds it, 1 MiB..256 MiB by default). */
  sizeBytes?: number
  /** false: copy out with preadv even when the mmap addon is there (tests of that path). */
  mapped?: boolean
}

interface RingPiece { readonly index: number; readonly offset: number; readonly length: number }

export class ClientDataRing {
  private fd: number | undefined
  private linked = true
  private capacity = 0
  private epoch = 0
  private consumedMark = 0
  /** The ring data (after the header), mapped; undefined without the addon (then preadv). */
  private view: Uint8Array | undefined
  /** Pieces and bytes that came through the ring. */
  readonly stats = { pieces: 0, bytes: 0 }

  private constructor(fd: number, readonly path: string, readonly key: Buffer, readonly sizeBytes: number, private readonly log: ClientLog) {
    this.fd = fd
  }

  static create(options: DataRingOptions, log: ClientLog): ClientDataRing {
    const sizeBytes = options.sizeBytes ?? DEFAULT_RING_FILE_BYTES
    if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= RING_HEADER_BYTES || sizeBytes > 2 ** 31) {
      throw new MemweaveError('net', 'invalid_argument', `a data ring of ${sizeBytes} bytes is not possible: give ${RING_HEADER_BYTES + 1}..2^31 bytes`)
    }
    const path = join(options.dir ?? DEFAULT_RING_DIR, `${RING_FILE_PREFIX}${process.pid}-${randomBytes(8).toString('hex')}`)
    let fd: number
    try {
      fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600)
    } catch (err) {
      throw toMemweaveError(err, 'net', `cannot create the data ring ${path}`)
    }
    const key = randomBytes(RING_KEY_BYTES)
    const ring = new ClientDataRing(fd, path, key, sizeBytes, log)
    try {
      fchmodSync(fd, 0o600) // whatever the umask
      ftruncateSync(fd, sizeBytes)
      const header = Buffer.concat([RING_MAGIC, key])
      if (writeSync(fd, header, 0, header.length, 0) !== header.length) throw new MemweaveError('net', 'io', 'short write of the ring header')
      if (options.mapped !== false) ring.map()
    } catch (err) {
      ring.close()
      throw toMemweaveError(err, 'net', `cannot prepare the data ring ${path}`)
    }
    return ring
  }

  /** Whether copies out are memory copies from a mapping (the mmap addon) rather than preadv. */
  get mapped(): boolean {
    return this.view !== undefined
  }

  private map(): void {
    const addon = mmapAddon()
    const fd = this.fd
    if (addon === undefined || fd === undefined) return
    try {
      this.view = new Uint8Array(addon.map(fd, this.sizeBytes), RING_HEADER_BYTES, this.sizeBytes - RING_HEADER_BYTES)
    } catch (err) {
      this.log.debug({ err }, 'cannot map the data ring; copying out with preadv')
    }
  }

  /** True once the daemon accepted the ring and until the connection ends. */
  get active(): boolean {
    return this.capacity > 0 && this.fd !== undefined
  }

  /** The ring position up to which replies were copied out (sent with each read request). */
  get consumed(): number {
    return this.consumedMark
  }

  /**
   * Takes the daemon's answer (undefined: a daemon that does not know rings).
   * The name goes either way, since the daemon has opened the file or never
   * will; a refused ring is closed. True when the ring is in use.
   */
  settle(answer: DataRingAnswer | undefined, url: string): boolean {
    this.unlink()
    if (answer?.accepted === true) {
      // The size the daemon saw must be the size made.
      if (answer.sizeBytes !== this.sizeBytes) throw protocolError(`the daemon accepted a data ring of ${answer.sizeBytes} bytes, but ${this.sizeBytes} were offered`)
      this.capacity = answer.sizeBytes - RING_HEADER_BYTES
      this.epoch = ringEpoch(this.capacity)
      return true
    }
    this.log.debug({ url, reason: answer?.reason ?? 'the daemon does not know data rings' }, 'no shared data ring; data comes inline')
    this.close()
    return false
  }

  /** Removes the file name; the open descriptors (ours, the daemon's) keep the memory until closed. */
  unlink(): void {
    if (!this.linked) return
    this.linked = false
    try {
      unlinkSync(this.path)
    } catch (err) {
      this.log.warn({ err, path: this.path }, 'cannot remove the data ring file')
    }
  }

  /**
   * Replaces the `{ring, length}` pieces of a read result with copies of
   * their bytes (contiguous pieces in one readv), and moves the consumed mark
   * past them. With `copy` false (a reply nobody waits for any more) only the
   * mark moves. Anything that does not fit the ring is a protocol error.
   */
  take(result: unknown, copy: boolean, into?: (index: number) => Uint8Array | undefined): unknown {
    const fd = this.fd
    if (!Array.isArray(result) || !this.active || fd === undefined) return result
    const pieces: RingPiece[] = []
    let end: number | undefined
    result.forEach((raw: unknown, index) => {
      if (!isFields(raw) || !Object.hasOwn(raw, 'ring')) return
      const where = `read result[${index}]`
      const position = uintField(raw, 'ring', where, this.epoch - 1)
      const length = uintField(raw, 'length', where, this.capacity)
      const offset = position % this.capacity
      if (offset + length > this.capacity) throw protocolError(`${where} runs past the end of the data ring`)
      pieces.push({ index, offset, length })
      end = (position + length) % this.epoch
    })
    if (end === undefined) return result
    const copied = [...result]
    if (copy) this.copyOut(fd, pieces, copied, into)
    this.consumedMark = end
    return copied
  }

  /** `dest(index)`: where the caller wants piece `index` (readInto); a fresh buffer otherwise. */
  private copyOut(fd: number, pieces: readonly RingPiece[], into: unknown[], dest?: (index: number) => Uint8Array | undefined): void {
    let i = 0
    while (i < pieces.length) {
      const first = pieces[i]
      if (first === undefined) break
      // Each piece owns its whole ArrayBuffer, so keeping one piece keeps nothing else alive.
      const buffers: Uint8Array[] = []
      let bytes = 0
      for (let piece: RingPiece | undefined = first; piece !== undefined && piece.offset === first.offset + bytes; piece = pieces[++i]) {
        const wanted = dest?.(piece.index)
        const buffer = wanted !== undefined && wanted.length >= piece.length ? wanted.subarray(0, piece.length) : Buffer.allocUnsafeSlow(piece.length)
        buffers.push(buffer)
        into[piece.index] = { data: buffer }
        bytes += piece.length
      }
      const view = this.view
      if (view !== undefined) {
        let at = first.offset
        for (const buffer of buffers) { buffer.set(view.subarray(at, at + buffer.length)); at += buffer.length }
      } else {
        const got = readvSync(fd, buffers, RING_HEADER_BYTES + first.offset)
        if (got !== bytes) throw protocolError(`the data ring held ${got} of ${bytes} bytes at offset ${first.offset}`)
      }
      this.stats.pieces += buffers.length
      this.stats.bytes += bytes
    }
  }

  close(): void {
    this.unlink()
    const fd = this.fd
    if (fd === undefined) return
    this.fd = undefined
    this.view = undefined // unmapped by the garbage collector
    try {
      closeSync(fd)
    } catch (err) {
      this.log.debug({ err }, 'closing the data ring failed')
    }
  }
}
