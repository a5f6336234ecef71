/**
 * One-time tickets for browser sessions (protocol 1.2). A client that is
 * already in (the CLI's `memweave web`, with its token or the unix socket)
 * asks for a ticket; the daemon keeps only its SHA-256, with the rights of
 * the connection that asked and an expiry. A page that holds the ticket (in
 * its URL fragment, which browsers never send to a server) trades it at
 * hello for a session with those rights. A ticket works once, for a short
 * while; the daemon holds a bounded number of them.
 *
 *   memweave web ──ticket──▶ daemon: {sha256(t) → rights, expiry}
 *   browser #ticket=t ──hello{ticket: t}──▶ daemon: found, unexpired → removed, session opens
 */
import { createHash, randomBytes } from 'node:crypto'
import { MemweaveError } from '../errors/index.js'

/** How long a ticket waits to be traded. */
export const TICKET_LIFETIME_MS = 120_000
/** Tickets waiting at once (oldest dropped first). */
export const MAX_TICKETS = 64

export interface TicketStoreOptions {
  readonly lifetimeMs?: number
  readonly maxTickets?: number
  /** Milliseconds now (tests give their own clock). */
  readonly now?: () => number
}

/** What a ticket grants: the rights of the connection that asked for it (opaque here; the access layer fills it). */
export type TicketRights = Readonly<Record<string, unknown>>

interface Waiting {
  readonly rights: TicketRights
  readonly expiresAt: number
}

export class BrowserTickets {
  private readonly waiting = new Map<string, Waiting>()
  private readonly lifetimeMs: number
  private readonly maxTickets: number
  private readonly now: () => number

  constructor(options: TicketStoreOptions = {}) {
    this.lifetimeMs = options.lifetimeMs ?? TICKET_LIFETIME_MS
    this.maxTickets = options.maxTickets ?? MAX_TICKETS
    this.now = options.now ?? Date.now
  }

  /** A fresh ticket (32 random bytes, hex); only its digest is kept. */
  issue(rights: TicketRights = {}): { ticket: string; expiresInMs: number } {
    this.sweep()
    while (this.waiting.size >= this.maxTickets) {
      const oldest = this.waiting.keys().next().value
      if (oldest === undefined) break
      this.waiting.delete(oldest)
    }
    const ticket = randomBytes(32).toString('hex')
    this.waiting.set(digest(ticket), { rights, expiresAt: this.now() + this.lifetimeMs })
    return { ticket, expiresInMs: this.lifetimeMs }
  }

  /** Trades a ticket once: its rights, or a refusal that says why (never the ticket itself). */
  redeem(ticket: string): TicketRights {
    const key = digest(ticket)
    const found = this.waiting.get(key)
    this.waiting.delete(key)
    if (found === undefined) throw new MemweaveError('net', 'unauthorized', 'the ticket is not valid (already used, or never issued): run memweave web again for a new link')
    if (found.expiresAt < this.now()) throw new MemweaveError('net', 'unauthorized', 'the ticket has expired: run memweave web again for a new link')
    return found.rights
  }

  get size(): number {
    this.sweep()
    return this.waiting.size
  }

  private sweep(): void {
    const now = this.now()
    for (const [key, waiting] of this.waiting) if (waiting.expiresAt < now) this.waiting.delete(key)
  }
}

function digest(ticket: string): string {
  return createHash('sha256').update(ticket).digest('hex')
}
