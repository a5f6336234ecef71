/**
 * The server's limits, each a defence against one client starving the
 * others: message size, requests and read bytes in flight, unread replies
 * (backpressure), garbage tolerated before hanging up, watches, connections,
 * handles, queued requests, and the daemon-wide memory budget.
 */
import { MemweaveError } from '../errors/index.js'
import { defaultBudgetBytes } from './server-budget.js'

export interface ServerLimits {
  /** Largest incoming message; bigger frames close the connection before they are buffered or decoded. */
  maxMessageBytes: number
  /** Requests one connection may have in flight; beyond that requests get 'limit' errors, not a queue. */
  maxInFlight: number
  /** Bytes of reads one connection may have in flight (a single read may always go, within the tree's own limit). */
  maxInFlightReadBytes: number
  /** Reply bytes handed to the socket but not yet flushed; above this the connection's requests wait. */
  maxBufferedBytes: number
  /** Requests one connection may have waiting while it is paused (budget or backpressure); more get 'limit' errors. */
  maxQueuedRequests: number
  /** Distinct handles one connection may hold open. */
  maxHandlesPerClient: number
  /** Bytes of reads in flight and unflushed replies, summed over every client (server-budget.ts). */
  budgetBytes: number
  /** While others wait for budget, a client holding some whose replies have not moved for this long is cut off. */
  stallCutoffMs: number
  /** Malformed messages tolerated on one connection before it is closed. */
  maxProtocolErrors: number
  maxWatches: number
  maxConnections: number
  /** A connection that does not say hello within this time is closed. */
  helloTimeoutMs: number
  /** Pings go out this often; a client that has not answered the previous one (dead, or not reading) is cut off. */
  heartbeatMs: number
}

export const DEFAULT_SERVER_LIMITS: Readonly<ServerLimits> = {
  maxMessageBytes: 80 * 1024 * 1024,
  maxInFlight: 256,
  maxInFlightReadBytes: 512 * 1024 * 1024,
  maxBufferedBytes: 32 * 1024 * 1024,
  maxQueuedRequests: 1024,
  maxHandlesPerClient: 4096,
  budgetBytes: defaultBudgetBytes(),
  stallCutoffMs: 10_000,
  maxProtocolErrors: 8,
  maxWatches: 1024,
  maxConnections: 1024,
  helloTimeoutMs: 10_000,
  heartbeatMs: 30_000,
}

export function resolveLimits(limits: Partial<ServerLimits> | undefined): ServerLimits {
  const resolved: ServerLimits = { ...DEFAULT_SERVER_LIMITS, ...limits }
  for (const [name, value] of Object.entries(resolved)) {
    if (!Number.isSafeInteger(value) || value <= 0) throw new MemweaveError('config', 'invalid_argument', `server limit ${name} must be a positive integer, got ${value}`)
  }
  return resolved
}
