/**
 * Whether a hello is let in: same protocol major, a token the authenticator
 * knows (none needed on the owner-only unix socket), and no loop back to
 * this node. A refusal names the reason and the WebSocket close code to hang
 * up with; an accepted hello yields the client's identity (name, role, paths).
 */
import { MemweaveError, toMemweaveError } from '../errors/index.js'
import type { Authenticator, Identity, Transport } from './auth/credentials.js'
import { CLOSE_CODES, PROTOCOL_VERSION, formatVersion } from './messages.js'
import type { RequestOf } from './messages.js'

export interface HelloRefusal {
  readonly error: MemweaveError
  readonly closeCode: number
}

export function checkHello(
  request: RequestOf<'hello'>, auth: Authenticator, transport: Transport, port: number | undefined, nodeId: string,
): HelloRefusal | { readonly identity: Identity } {
  if (request.version.major !== PROTOCOL_VERSION.major) {
    const message = `protocol version mismatch: the client speaks ${formatVersion(request.version)}, this daemon speaks ${formatVersion(PROTOCOL_VERSION)}; use matching memweave versions`
    return { error: new MemweaveError('net', 'version_mismatch', message), closeCode: CLOSE_CODES.versionMismatch }
  }
  let identity: Identity
  try {
    identity = auth.identify(request.token, transport, port)
  } catch (err) {
    return { error: toMemweaveError(err, 'net', 'cannot check the token'), closeCode: CLOSE_CODES.unauthorized }
  }
  if (request.client?.chain?.includes(nodeId) === true) {
    return { error: new MemweaveError('net', 'invalid_argument', `connection loop: node ${nodeId} is already in this connection's chain`), closeCode: CLOSE_CODES.protocolError }
  }
  return { identity }
}
