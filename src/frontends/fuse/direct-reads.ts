/**
 * Reads a binding answers itself, without JavaScript (libfuse 3: the addon
 * answers a READ inside its poll callback, see native/fuse3/fuse3.c). When a
 * memory file whose bytes lie in one plain file (an in-process image) is
 * opened, the tree's file map of the leaf goes to the binding, which hands
 * it to the addon for that fh. The addon answers only while a lease holds:
 * afterwards one read comes through JS, whose staleness check (the file
 * watch reuses a stat for ~100 ms) renews it. The map is revoked at once
 * when the file is released, the object behind it ends (the image was
 * replaced, the connector closed) or the tree goes: reads then come to JS,
 * which answers them as before (ESTALE, ENOTCONN, ...).
 */
import type { LeafFileMap } from '../../net/index.js'
import { MAX_EXACT_OFFSET } from './fuse-stat.js'

/** How long the addon answers reads of a file between two staleness checks in JS (as long as a file watch reuses a stat). */
export const DIRECT_READ_LEASE_MS = 100

/** What a binding gets for an open file whose reads it may answer itself. */
export interface DirectReadMap {
  /** The source's fd, open until the open's answer has been given (duplicate it then). */
  readonly fd: number
  /** Reads at or past it are empty. */
  readonly sizeBytes: number
  /** [addr, length, pos] triples, sorted (pos -1: zeros); an address none covers is read through JS. */
  readonly extents: Float64Array
  readonly leaseMs: number
  /** listener runs once when the binding must stop answering reads of the file (at once if that is already so). */
  onRevoke(listener: () => void): void
}

const LIMIT = BigInt(MAX_EXACT_OFFSET)

export class DirectFile implements DirectReadMap {
  readonly fd: number
  readonly sizeBytes: number
  readonly extents: Float64Array
  readonly leaseMs = DIRECT_READ_LEASE_MS
  private readonly listeners: (() => void)[] = []
  private revoked = false
  private releaseFd: (() => void) | undefined
  private stopWatching: (() => void) | undefined

  /** The map of a leaf of sizeBytes (extents past 2^53 are left to JS). Takes over map.release(). */
  constructor(map: LeafFileMap, sizeBytes: bigint) {
    this.fd = map.fd
    this.sizeBytes = Number(sizeBytes < LIMIT ? sizeBytes : LIMIT)
    const triples: number[] = []
    for (const e of map.extents) {
      const end = e.addr + e.length
      if (end > LIMIT || e.length <= 0n) continue
      triples.push(Number(e.addr), Number(e.length), e.pos)
    }
    this.extents = Float64Array.from(triples)
    this.releaseFd = () => map.release()
    const stop = map.onEnd(() => this.revoke())
    if (this.revoked) stop() // the object had ended already
    else this.stopWatching = stop
  }

  onRevoke(listener: () => void): void {
    if (this.revoked) listener()
    else this.listeners.push(listener)
  }

  /** The binding has duplicated the fd (or did not want it): the source may close it from now on. */
  fdTaken(): void {
    const release = this.releaseFd
    this.releaseFd = undefined
    release?.()
  }

  /** Reads of the file come to JS again (released, object ended, tree gone). */
  revoke(): void {
    if (this.revoked) return
    this.revoked = true
    this.stopWatching?.()
    this.stopWatching = undefined
    this.fdTaken()
    for (const listener of this.listeners.splice(0)) listener()
  }
}
