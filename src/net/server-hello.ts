/**
 * Whether a hello is let in: same protocol major; a one-time browser ticket
 * (traded here, once, for the rights of the connection that asked for it),
 * else a token the authenticator knows (none needed on the owner-only unix
 * socket); and no loop back to this node. A refusal names the reason and
 * the WebSocket close code to hang up with; an accepted hello yields the
 * client's identity (name, role, paths).
 */
import { MemweaveError, toMemweaveError } from '../errors/index.js'
import { identityFromRights } from './auth/credentials.js'
import type { Authenticator, Identity, Transport } from './auth/credentials.js'
import type { BrowserTickets } from './browser-tickets.js'
import { CLOSE_CODES, PROTOCOL_VERSION, formatVersion } from './messages.js'
import type { RequestOf } from './messages.js'

export interface HelloRefusal {
  readonly error: MemweaveError
  readonly closeCode: number
}

export interface HelloAccess {
  readonly auth: Authenticator
  readonly transport: Transport
  /** The TCP listener's port (names the auto token file in a refusal). */
  readonly port: number | undefined
  readonly tickets?: BrowserTickets
}

export function checkHello(request: RequestOf<'hello'>, access: HelloAccess, nodeId: string): HelloRefusal | { readonly identity: Identity } {
  if (request.version.major !== PROTOCOL_VERSION.major) {
    const message = `protocol version mismatch: the client speaks ${formatVersion(request.version)}, this daemon speaks ${formatVersion(PROTOCOL_VERSION)}; use matching memweave versions`
    return { error: new MemweaveError('net', 'version_mismatch', message), closeCode: CLOSE_CODES.versionMismatch }
  }
  let identity: Identity
  try {
    if (request.ticket !== undefined) {
      if (access.tickets === undefined) throw new MemweaveError('net', 'unauthorized', 'this daemon issues no tickets')
      identity = identityFromRights(access.tickets.redeem(request.ticket))
    } else {
      identity = access.auth.identify(request.token, access.transport, access.port)
    }
  } catch (err) {
    const error = err instanceof MemweaveError ? err : toMemweaveError(err, 'net', 'the credentials were refused')
    return { error: error.kind === 'unauthorized' ? error : new MemweaveError('net', 'unauthorized', error.message, { cause: error }), closeCode: CLOSE_CODES.unauthorized }
  }
  if (request.client?.chain?.includes(nodeId) === true) {
    return { error: new MemweaveError('net', 'invalid_argument', `connection loop: node ${nodeId} is already in this connection's chain`), closeCode: CLOSE_CODES.protocolError }
  }
  return { identity }
}
