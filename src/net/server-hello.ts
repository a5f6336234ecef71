/**
 * Whether a hello is let in: same protocol major, the right token when one
 * is configured (compared in constant time), and no loop back to this node.
 * A refusal names the reason and the WebSocket close code to hang up with.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { MemweaveError } from '../errors/index.js'
import type { BrowserTickets } from './browser-tickets.js'
import { CLOSE_CODES, PROTOCOL_VERSION, formatVersion } from './messages.js'
import type { RequestOf } from './messages.js'

export interface HelloRefusal {
  readonly error: MemweaveError
  readonly closeCode: number
}

/** A hello with a ticket is let in on the ticket alone (traded here, once); without one the token rule applies. */
export function checkHello(request: RequestOf<'hello'>, token: string | undefined, nodeId: string, tickets?: BrowserTickets): HelloRefusal | undefined {
  if (request.version.major !== PROTOCOL_VERSION.major) {
    const message = `protocol version mismatch: the client speaks ${formatVersion(request.version)}, this daemon speaks ${formatVersion(PROTOCOL_VERSION)}; use matching memweave versions`
    return { error: new MemweaveError('net', 'version_mismatch', message), closeCode: CLOSE_CODES.versionMismatch }
  }
  if (request.ticket !== undefined) {
    try {
      tickets?.redeem(request.ticket) ?? (() => { throw new MemweaveError('net', 'unauthorized', 'this daemon issues no tickets') })()
    } catch (err) {
      const error = err instanceof MemweaveError ? err : new MemweaveError('net', 'unauthorized', 'the ticket was refused', { cause: err })
      return { error, closeCode: CLOSE_CODES.unauthorized }
    }
  } else if (token !== undefined && !tokenMatches(request.token, token)) {
    const message = request.token === undefined ? 'this daemon requires a token' : 'the token is not valid for this daemon'
    return { error: new MemweaveError('net', 'unauthorized', message), closeCode: CLOSE_CODES.unauthorized }
  }
  if (request.client?.chain?.includes(nodeId) === true) {
    return { error: new MemweaveError('net', 'invalid_argument', `connection loop: node ${nodeId} is already in this connection's chain`), closeCode: CLOSE_CODES.protocolError }
  }
  return undefined
}

/** Compares digests, so neither the length nor the content of the token leaks through timing. */
function tokenMatches(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false
  const digest = (value: string): Buffer => createHash('sha256').update(value).digest()
  return timingSafeEqual(digest(given), digest(expected))
}
