/**
 * What the daemon gives each of its connections: the tree they serve, the
 * limits and memory budget they share, who may connect, and the daemon's
 * ticket books (browser sessions, downloads, data channels).
 */
import type { Logger } from 'pino'
import type { Tree } from '../tree/index.js'
import type { AuditLog } from './auth/audit.js'
import type { Authenticator, Transport } from './auth/credentials.js'
import type { BrowserTickets } from './browser-tickets.js'
import type { Downloads } from './downloads.js'
import type { ServerHello } from './messages.js'
import type { DaemonBudget } from './server-budget.js'
import type { ChannelTickets } from './server-data-channel.js'
import type { DataRingPolicy } from './server-data-ring.js'
import type { ServerLimits } from './server-limits.js'

export interface ConnectionContext {
  readonly tree: Tree
  readonly log: Logger
  readonly limits: ServerLimits
  /** The daemon-wide memory budget every connection draws on. */
  readonly budget: DaemonBudget
  /** Who may connect (tokens, roles) and the audit trail of who did. */
  readonly auth: Authenticator
  readonly audit: AuditLog
  /** The listener this connection came through (set per connection by the server). */
  readonly transport?: Transport
  readonly port?: number
  readonly nodeId: string
  /** One-time tickets for browser sessions (issued by the `ticket` op, traded at hello). */
  readonly tickets: BrowserTickets
  /** Streamed downloads (the `download` op's tickets, posted to the TCP listener). */
  readonly downloads: Downloads
  /** The web page's URLs, when the daemon serves it. */
  pages(): string[]
  /** Unset: data rings are off, and an offered one is ignored as a 1.0 daemon would. */
  readonly dataRing: DataRingPolicy | undefined
  /** Tickets for TCP data channels (1.6); unset: none are offered. */
  readonly channels?: ChannelTickets
  hello(owner: string): ServerHello
}
