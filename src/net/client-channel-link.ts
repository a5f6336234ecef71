/**
 * A protocol client's TCP data channel (protocol 1.6, data-channel.ts), as
 * the client holds it: opened on request or in the background by the first
 * big read when the daemon offers one, which reads go to it once open, and
 * how much came through it.
 */
import type { MemweaveError } from '../errors/index.js'
import type { ReadPiece } from '../mem/index.js'
import type { ClientLog } from './client-log.js'
import { ClientDataChannel } from './client-data-channel.js'
import type { ChannelDial, ChannelReplies } from './client-data-channel.js'
import { CHANNEL_MIN_READ_BYTES, CHANNEL_REQUEST_BYTES } from './data-channel.js'

/** What the link needs of its client. */
export interface ChannelLinkHost {
  readonly url: string
  readonly log: ClientLog
  /** Whether a channel may be opened now: offered at hello, not turned off, the client not closed. */
  available(): boolean
  closed(): boolean
  /** A ticket for the channel (the `channel` op). */
  ticket(): Promise<string>
  readonly replies: ChannelReplies
  /** The most one reply may hold (the daemon's batch limit) and how long opening may take. */
  openLimits(): { readonly maxDataBytes: number; readonly timeoutMs: number }
  /** The open channel broke or was closed by the daemon. */
  lost(error: MemweaveError): void
}

export class ChannelLink {
  private channel: ClientDataChannel | undefined
  private opening: Promise<boolean> | undefined

  constructor(private readonly dial: ChannelDial | undefined, private readonly host: ChannelLinkHost) {}

  /** Whether the channel is open (reads that ask for it go there). */
  get isOpen(): boolean {
    return this.channel !== undefined
  }

  /** Frames, bytes and socket reads that came through the channel. */
  get stats(): { readonly frames: number; readonly bytes: number; readonly reads: number } {
    return { frames: this.channel?.stats.frames ?? 0, bytes: this.channel?.stats.bytes ?? 0, reads: this.channel?.stats.reads ?? 0 }
  }

  /** Opens the channel if the daemon offers one; true once it is open, false when there is none (refused, not offered, turned off). */
  open(): Promise<boolean> {
    if (this.opening !== undefined) return this.opening
    const dial = this.dial
    const { host } = this
    if (dial === undefined || !host.available()) return Promise.resolve(false)
    this.opening = (async (): Promise<boolean> => {
      try {
        const ticket = await host.ticket()
        const channel = await ClientDataChannel.open(dial, ticket, host.replies, { ...host.openLimits(), where: host.url, log: host.log })
        if (host.closed()) { channel.close(); return false }
        channel.onLost((error) => host.lost(error))
        this.channel = channel
        return true
      } catch (err) {
        host.log.info({ err, url: host.url }, 'no data channel; big reads stay on the WebSocket')
        return false
      }
    })()
    return this.opening
  }

  /** Whether a read has pieces big enough to go to the open channel in chunks. */
  chunks(pieces: readonly ReadPiece[]): boolean {
    return this.channel !== undefined && pieces.some((p) => p.length > CHANNEL_REQUEST_BYTES)
  }

  /** The piece lengths of a batch that goes to the channel, or undefined when it stays on the WebSocket (a big one starts opening it). */
  lengths(pieces: readonly ReadPiece[]): number[] | undefined {
    let bytes = 0
    for (const p of pieces) bytes += p.length
    if (bytes < CHANNEL_MIN_READ_BYTES) return undefined
    if (this.channel === undefined) { void this.open(); return undefined }
    return pieces.map((p) => p.length)
  }

  close(): void {
    this.channel?.close()
  }
}
