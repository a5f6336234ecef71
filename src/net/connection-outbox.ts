/**
 * What one connection sends: replies and events encoded and written to the
 * WebSocket (or a read reply to the session's data channel), with the bytes not
 * yet taken by the socket counted against the daemon's memory budget. The
 * connection is told when a send leaves too much unflushed (it stops reading
 * the client) and whenever a send has flushed (it may resume).
 */
import type { Logger } from 'pino'
import { WebSocket } from 'ws'
import { encodeMessage, toWireError } from './codec.js'
import type { ServerMessage } from './messages.js'
import type { DaemonBudget } from './server-budget.js'
import type { ServerDataChannel } from './server-data-channel.js'

export class ConnectionOutbox {
  private unflushed = 0
  /** When a reply last finished flushing (or the connection went quiet with nothing unflushed). */
  private lastFlushAt = Date.now()

  constructor(
    private readonly ws: WebSocket,
    private readonly budget: DaemonBudget,
    private readonly owner: string,
    private readonly log: Logger,
    private readonly maxBufferedBytes: number,
    private readonly events: {
      /** More than maxBufferedBytes are unflushed after a send. */
      readonly overfull: () => void
      /** A send finished flushing (delivered or not). */
      readonly flushed: () => void
    },
  ) {}

  /** Bytes sent that the socket has not taken yet. */
  get unflushedBytes(): number {
    return this.unflushed
  }

  reply(id: number, result: unknown): void {
    this.sendMessage({ id, result })
  }

  replyError(id: number, err: unknown): void {
    this.sendMessage({ id, error: toWireError(err) })
  }

  sendMessage(message: ServerMessage): void {
    let encoded: Buffer
    try {
      encoded = encodeMessage(message)
    } catch (err) {
      // Only a reply's result can be unencodable (an rpc returning a function, say); the error itself always encodes.
      if (!('id' in message)) throw err
      encoded = encodeMessage({ id: message.id, error: toWireError(err, 'reply cannot be sent') })
    }
    this.send([encoded])
  }

  /**
   * Sends one message made of parts (WebSocket fragments, or one frame on the data channel), counting bytes
   * until the socket has taken them; `after.done` runs once either way (the parts' memory may then be reused).
   */
  send(parts: readonly Buffer[], charge?: { bytes: number }, after?: { channel?: ServerDataChannel; done: () => void }): void {
    if (this.ws.readyState !== WebSocket.OPEN) { after?.done(); return } // the client is gone: its replies are dropped
    const bytes = parts.reduce((sum, p) => sum + p.length, 0)
    this.unflushed += bytes
    // A read reply takes over what its request was charged (the same buffers); only the rest is added.
    const prepaid = Math.min(charge?.bytes ?? 0, bytes)
    if (charge !== undefined) charge.bytes -= prepaid
    this.budget.force(this.owner, bytes - prepaid)
    if (this.unflushed === bytes) this.lastFlushAt = Date.now() // nothing was pending: the clock starts now
    const flushed = (err?: Error): void => {
      // The memory goes first: releasing the budget may start a waiting read, which takes memory at once.
      after?.done()
      this.unflushed -= bytes
      this.lastFlushAt = Date.now()
      this.budget.release(this.owner, bytes)
      if (err !== undefined) this.log.debug({ err }, 'reply not delivered')
      this.events.flushed()
    }
    const last = parts.length - 1
    if (after?.channel !== undefined) after.channel.write(parts, flushed)
    else parts.forEach((part, i) => this.ws.send(part, { binary: true, fin: i === last }, i === last ? flushed : undefined))
    if (this.unflushed > this.maxBufferedBytes) this.events.overfull()
  }

  /** How long this connection has held budget with replies that do not move (0 when it holds none). */
  stalledMs(now: number): number {
    return this.budget.heldBy(this.owner) > 0 && this.unflushed > 0 ? now - this.lastFlushAt : 0
  }
}
