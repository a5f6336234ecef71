/**
 * The audit trail of a listener: one `info` line per accepted connection
 * (transport, peer address, token name — never the token — and role) and
 * one `warn` line per refused attempt, at most REFUSALS_PER_WINDOW per
 * window; beyond that refusals are counted and the count is logged once the
 * window ends, so a client hammering the port cannot flood the log.
 */
import type { Logger } from 'pino'
import type { Identity, Transport } from './credentials.js'

const WINDOW_MS = 60_000
const REFUSALS_PER_WINDOW = 20

export interface AuditPeer {
  readonly transport: Transport
  /** Remote address and port ('127.0.0.1:53422'), or 'unix'. */
  readonly address: string
}

export class AuditLog {
  private windowStart = 0
  private refusals = 0
  private suppressed = 0

  constructor(private readonly log: Logger, private readonly now: () => number = Date.now) {}

  accepted(peer: AuditPeer, identity: Identity, connection: string): void {
    this.log.info({ audit: 'connect', transport: peer.transport, peer: peer.address, token: identity.name, role: identity.role, paths: identity.paths, conn: connection }, 'connection accepted')
  }

  refused(peer: AuditPeer, reason: string): void {
    const now = this.now()
    if (now - this.windowStart >= WINDOW_MS) {
      if (this.suppressed > 0) this.log.warn({ audit: 'refused', suppressed: this.suppressed, windowMs: WINDOW_MS }, 'more refused connections were not logged one by one')
      this.windowStart = now
      this.refusals = 0
      this.suppressed = 0
    }
    if (++this.refusals > REFUSALS_PER_WINDOW) { this.suppressed++; return }
    this.log.warn({ audit: 'refused', transport: peer.transport, peer: peer.address, reason }, 'connection refused')
  }
}
