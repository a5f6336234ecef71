/**
 * The daemon's side of TCP data channels (data-channel.ts): one-time
 * tickets bound to the session that asked, the HTTP Upgrade that trades one
 * for a raw socket on the same listener (so Host/Origin checks and TLS are
 * the listener's own), and the channel itself, which only ever sends reply
 * frames. A ticket is single use, expires in seconds, names its session and
 * listener; a wrong, replayed or late one is refused with HTTP 403 and the
 * reason. Anything the client writes on the channel closes it (and its
 * session) with the reason logged; nothing else is affected.
 */
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { Logger } from 'pino'
import { MemweaveError } from '../errors/index.js'
import type { AuditLog } from './auth/audit.js'
import { BrowserTickets } from './browser-tickets.js'
import type { ListenerSite } from './browser-origin.js'
import { CHANNEL_PATH, CHANNEL_TICKET_HEADER, CHANNEL_TICKET_MS, CHANNEL_UPGRADE } from './data-channel.js'

/** What a session needs from its channel. */
export class ServerDataChannel {
  private closed = false
  private readonly closeListeners: Array<(reason: string) => void> = []

  constructor(private readonly socket: Duplex, private readonly log: Logger) {
    if ('setNoDelay' in socket && typeof socket.setNoDelay === 'function') socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => this.close(`the client wrote ${chunk.length} bytes on its data channel, which carries only the daemon's replies`, 'warn'))
    socket.on('error', (err) => this.log.debug({ err }, 'data channel error'))
    socket.on('close', () => this.close('the data channel closed'))
    // HTTP server sockets are half-open capable: the client's end is the channel's end.
    socket.on('end', () => this.close('the client closed its data channel'))
    // The HTTP server leaves an upgraded socket paused: without reading, neither stray bytes nor the end would be seen.
    socket.resume()
  }

  get open(): boolean {
    return !this.closed && !this.socket.destroyed
  }

  /** Writes one reply frame; `done` runs once the socket has taken it, or it was dropped (always, exactly once). */
  write(parts: readonly Buffer[], done: (err?: Error) => void): void {
    if (!this.open) { queueMicrotask(() => done(new MemweaveError('net', 'disconnected', 'the data channel is closed'))); return }
    const socket = this.socket
    // Corked, the parts leave in one writev.
    if ('cork' in socket) socket.cork()
    const last = parts.length - 1
    parts.forEach((part, i) => socket.write(part, i === last ? (err?: Error | null) => done(err ?? undefined) : undefined))
    if ('uncork' in socket) socket.uncork()
  }

  onClose(listener: (reason: string) => void): void {
    if (this.closed) { listener('the data channel closed'); return }
    this.closeListeners.push(listener)
  }

  close(reason = 'session ended', level: 'debug' | 'warn' = 'debug'): void {
    if (this.closed) return
    this.closed = true
    this.log[level]({ reason }, 'data channel closed')
    this.socket.destroy()
    for (const listener of this.closeListeners.splice(0)) listener(reason)
  }
}

/** One session's side of its channel: whether it is offered, the ticket it may ask for, the channel once joined. */
export class SessionChannel {
  private channel: ServerDataChannel | undefined

  /** `offered`: a TCP session other than a browser's, on a daemon with channels. */
  constructor(private readonly tickets: ChannelTickets | undefined, readonly offered: boolean, private readonly owner: string, private readonly port: number | undefined) {}

  /** The channel while it is open. */
  get current(): ServerDataChannel | undefined {
    return this.channel?.open === true ? this.channel : undefined
  }

  /** A one-time ticket for this session's channel. */
  ticket(): { ticket: string; expiresInMs: number } {
    if (this.tickets === undefined || !this.offered) throw new MemweaveError('net', 'unsupported', 'data channels are for TCP clients of a daemon that offers them; a unix-socket client shares a data ring instead')
    if (this.channel !== undefined) throw new MemweaveError('net', 'invalid_argument', 'this session already has a data channel')
    return this.tickets.issue(this.owner, this.port)
  }

  /** Joins the channel `open()` makes, or answers why not; `lost` runs when it closes (the session must end with it). */
  attach(open: () => ServerDataChannel, sessionOpen: boolean, lost: (reason: string) => void): string | undefined {
    if (!sessionOpen) return 'the session is not open'
    if (this.channel !== undefined) return 'this session already has a data channel'
    const channel = open()
    this.channel = channel
    channel.onClose(lost)
    return undefined
  }

  close(): void {
    this.channel?.close()
  }
}

/** A session a channel can join (ServerConnection). */
export interface ChannelSession {
  readonly owner: string
  /** Takes the channel `open()` makes, or answers a refusal in words (closed, already has one) without calling it. */
  attachChannel(open: () => ServerDataChannel): string | undefined
}

export interface ChannelUpgrade {
  readonly request: IncomingMessage
  readonly socket: Duplex
  readonly head: Buffer
  readonly site: ListenerSite | undefined
  readonly peer: string
  readonly find: (owner: string) => ChannelSession | undefined
  readonly audit: AuditLog
  readonly log: Logger
}

export function isChannelUpgrade(request: IncomingMessage): boolean {
  return (request.headers.upgrade ?? '').toLowerCase() === CHANNEL_UPGRADE
}

/** One-time tickets for data channels, each bound to one session on one listener. */
export class ChannelTickets {
  private readonly tickets: BrowserTickets

  constructor(lifetimeMs = CHANNEL_TICKET_MS) {
    this.tickets = new BrowserTickets({ lifetimeMs, maxTickets: 1024 })
  }

  issue(owner: string, port: number | undefined): { ticket: string; expiresInMs: number } {
    return this.tickets.issue({ owner, port })
  }

  /** Trades an upgrade for a channel joined to its session, or answers the refusal; never throws. */
  accept(upgrade: ChannelUpgrade): void {
    const { request, socket, head, site, log } = upgrade
    const refuse = (status: 400 | 403, reason: string): void => {
      upgrade.audit.refused({ transport: 'tcp', address: upgrade.peer }, `data channel: ${reason}`)
      socket.end(`HTTP/1.1 ${status} ${status === 400 ? 'Bad Request' : 'Forbidden'}\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\n${reason}\n`)
    }
    if (site === undefined) { refuse(400, 'data channels are for TCP listeners; a unix-socket client shares a data ring instead'); return }
    if ((request.url ?? '').split('?')[0] !== CHANNEL_PATH || request.method !== 'GET') { refuse(400, `a data channel is opened by GET ${CHANNEL_PATH}`); return }
    if (head.length > 0) { refuse(400, 'a data channel request carries no body'); return }
    const ticket = request.headers[CHANNEL_TICKET_HEADER]
    if (typeof ticket !== 'string' || ticket === '') { refuse(403, `no ${CHANNEL_TICKET_HEADER} header: ask for a ticket with the 'channel' op first`); return }
    let rights: Readonly<Record<string, unknown>>
    try {
      rights = this.tickets.redeem(ticket)
    } catch (err) {
      log.debug({ err }, 'data channel ticket refused')
      refuse(403, 'the data channel ticket is not valid (already used, expired, or never issued)')
      return
    }
    const session = typeof rights.owner === 'string' ? upgrade.find(rights.owner) : undefined
    if (session === undefined) { refuse(403, 'the session this data channel ticket was issued to is gone'); return }
    if (rights.port !== site.port) { refuse(403, 'the data channel ticket was issued on another listener'); return }
    const refusal = session.attachChannel(() => {
      // The answer goes first: nothing of the session's reaches the channel before it.
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${CHANNEL_UPGRADE}\r\nConnection: Upgrade\r\n\r\n`)
      return new ServerDataChannel(socket, log.child({ conn: session.owner, channel: true }))
    })
    if (refusal !== undefined) { refuse(403, refusal); return }
    log.debug({ conn: session.owner, peer: upgrade.peer }, 'data channel opened')
  }
}
