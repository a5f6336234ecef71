/**
 * Whether one connection may start a request now: the checks of its share of
 * the server's limits (requests and read bytes in flight) and of the reads the
 * tree or the daemon's memory budget could never take. Room in the budget
 * itself is taken (or waited for) by the connection.
 */
import { MemweaveError } from '../errors/index.js'
import type { Tree } from '../tree/index.js'
import type { Request } from './messages.js'
import type { DaemonBudget } from './server-budget.js'
import type { ServerLimits } from './server-limits.js'

/** What the connection has in flight when a request comes. */
export interface InFlight {
  readonly requests: number
  readonly readBytes: number
}

/** The bytes a request reads (0 for any other op), or why it must be answered now with an error. */
export function admission(request: Request, inFlight: InFlight, tree: Tree, limits: ServerLimits, budget: DaemonBudget): { readonly readBytes: number } | { readonly refused: unknown } {
  const { maxInFlight, maxInFlightReadBytes } = limits
  if (inFlight.requests >= maxInFlight) {
    return { refused: new MemweaveError('net', 'limit', `more than ${maxInFlight} requests in flight on this connection; wait for replies`) }
  }
  if (request.op === 'read') {
    // A read the tree refuses outright (a 2^53-byte length) is answered now and never counts as in flight.
    try {
      tree.checkRead(request.pieces)
    } catch (err) {
      return { refused: err }
    }
  }
  const readBytes = request.op === 'read' ? request.pieces.reduce((sum, p) => sum + p.length, 0) : 0
  if (readBytes > 0 && inFlight.readBytes > 0 && inFlight.readBytes + readBytes > maxInFlightReadBytes) {
    return { refused: new MemweaveError('net', 'limit', `reads of more than ${maxInFlightReadBytes} bytes in flight on this connection; wait for replies`) }
  }
  if (readBytes > budget.capacityBytes) {
    return { refused: new MemweaveError('net', 'limit', `a read of ${readBytes} bytes is more than the daemon's memory budget (${budget.capacityBytes} bytes); split it`) }
  }
  return { readBytes }
}
