/**
 * `connect()`: a client on a running daemon, found the way the CLI finds it
 * (the address given, else $MEMWEAVE_DAEMON, else the default unix socket)
 * with the token found the same way (given, token file, $MEMWEAVE_TOKEN;
 * connectClient then tries a loopback daemon's own auto-token file).
 */
import { connectClient, defaultDaemonUrl, normalizeDaemonUrl, resolveToken } from '../net/index.js'
import type { ClientOptions, ProtocolClient } from '../net/index.js'

export interface ConnectOptions extends Omit<ClientOptions, 'chain'> {
  /** A file holding the token (used when `token` is not given). */
  tokenFile?: string
}

export async function connect(url?: string, options: ConnectOptions = {}): Promise<ProtocolClient> {
  const address = url === undefined || url === '' ? defaultDaemonUrl() : normalizeDaemonUrl(url)
  const { tokenFile, ...rest } = options
  const token = await resolveToken(options.token, tokenFile)
  return connectClient(address, { name: 'library', ...rest, ...(token === undefined ? {} : { token }) })
}
