/**
 * Connecting to a daemon: `unix:/path`, `ws://HOST:PORT` or `wss://HOST:PORT`,
 * then the hello handshake (offering a shared data ring over a unix socket).
 * Failures say what is wrong in words a user can act on (no daemon there:
 * start one, or use --embedded).
 */
import { readFileSync } from 'node:fs'
import { connect } from 'node:net'
import { WebSocket } from 'ws'
import type { ClientOptions as WsOptions } from 'ws'
import { MemweaveError, toMemweaveError } from '../errors/index.js'
import { discoverToken } from './auth/token-file.js'
import { formatEndpoint, isLoopbackHost, parseEndpoint } from './listen-address.js'
import type { Endpoint } from './listen-address.js'
import { normalizeFingerprint, verifiedTlsSocket } from './peers-tls.js'
import { ClientDataRing } from './client-data-ring.js'
import type { ChannelDial } from './client-data-channel.js'
import { ProtocolClient } from './protocol-client.js'
import type { ClientOptions } from './client-options.js'
import { SILENT_LOG } from './client-log.js'

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000
const DEFAULT_MAX_REPLY_BYTES = 1024 * 1024 * 1024

export async function connectClient(url: string, options: ClientOptions = {}): Promise<ProtocolClient> {
  const endpoint = parseEndpoint(url)
  const connectTimeoutMs = options.connectTimeoutMs ?? options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS
  const wsOptions: WsOptions = { perMessageDeflate: false, maxPayload: options.maxMessageBytes ?? DEFAULT_MAX_REPLY_BYTES, handshakeTimeout: connectTimeoutMs }
  // ws+unix: URLs cannot hold every path (':' splits them), so the unix socket is made here.
  if (endpoint.kind === 'unix') wsOptions.createConnection = () => connect(endpoint.path)
  const ca = options.tls?.ca ?? (options.tls?.caFile === undefined ? undefined : readFileSync(options.tls.caFile))
  if (ca !== undefined) wsOptions.ca = ca
  if (options.tls?.rejectUnauthorized !== undefined) wsOptions.rejectUnauthorized = options.tls.rejectUnauthorized
  // The same listener, dialled again for a data channel (TCP only; the unix socket shares a ring instead).
  let dial: ChannelDial | undefined
  if (endpoint.kind === 'tcp' && endpoint.tls) {
    // Our own TLS socket: a pinned fingerprint is checked, and an untrusted certificate is refused naming its fingerprint.
    const trust = {
      fingerprint: options.tls?.fingerprint === undefined ? undefined : normalizeFingerprint(options.tls.fingerprint),
      ca,
      rejectUnauthorized: options.tls?.rejectUnauthorized,
    }
    const { host, port } = endpoint
    wsOptions.createConnection = () => verifiedTlsSocket({ host, port }, trust, formatEndpoint(endpoint))
    dial = { kind: 'tls', connect: () => verifiedTlsSocket({ host, port }, trust, formatEndpoint(endpoint)), hostHeader: new URL(formatEndpoint(endpoint)).host }
  } else if (endpoint.kind === 'tcp') {
    dial = { kind: 'tcp', host: endpoint.host, port: endpoint.port, hostHeader: new URL(formatEndpoint(endpoint)).host }
  }
  const ws = new WebSocket(endpoint.kind === 'unix' ? 'ws://localhost/' : formatEndpoint(endpoint), wsOptions)
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => { ws.removeAllListeners('error'); resolve() })
    ws.once('error', (err) => reject(connectError(err, endpoint)))
  })
  const client = new ProtocolClient(ws, formatEndpoint(endpoint), options, endpoint.kind === 'unix' ? makeRing(options) : undefined, options.dataChannel === false ? undefined : dial)
  try {
    await client.handshake({ ...options, token: options.token ?? await localToken(endpoint, options) }, connectTimeoutMs)
  } catch (err) {
    await client.disconnect()
    throw err
  }
  return client
}

/**
 * With no token given, a loopback TCP daemon's auto token, when its file (in our state directory) is ours:
 * a local daemon of the same user needs nothing configured. Never for remote hosts or unix sockets.
 */
async function localToken(endpoint: Endpoint, options: ClientOptions): Promise<string | undefined> {
  if (endpoint.kind !== 'tcp' || !isLoopbackHost(endpoint.host) || options.autoToken === false) return undefined
  return discoverToken(endpoint.port)
}

/** The shared data ring a unix-socket client offers; without one (no /dev/shm, say) data simply stays inline. */
function makeRing(options: ClientOptions): ClientDataRing | undefined {
  if (options.dataRing === false) return undefined
  try {
    return ClientDataRing.create(options.dataRing ?? {}, options.log ?? SILENT_LOG)
  } catch (err) {
    options.log?.debug({ err }, 'no shared data ring; reads come through the socket')
    return undefined
  }
}

function connectError(err: Error, endpoint: Endpoint): MemweaveError {
  const code = 'code' in err ? String(err.code) : ''
  const where = formatEndpoint(endpoint)
  if (endpoint.kind === 'unix' && (code === 'ECONNREFUSED' || code === 'ENOENT')) {
    return new MemweaveError('net', 'disconnected',
      `no memweave daemon is listening on ${endpoint.path} (${code === 'ENOENT' ? 'no socket file' : 'connection refused'}); `
      + "start one with 'memweave serve', or run the command with --embedded", { cause: err })
  }
  if (code === 'ECONNREFUSED') return new MemweaveError('net', 'disconnected', `nothing listens on ${where} (connection refused)`, { cause: err })
  const status = /Unexpected server response: (\d+)/.exec(err.message)?.[1]
  if (status === '503') return new MemweaveError('net', 'busy', `the daemon at ${where} is full or shutting down`, { cause: err })
  if (status !== undefined) return new MemweaveError('net', 'protocol', `${where} answered HTTP ${status}: is it a memweave daemon?`, { cause: err })
  if (err.message.includes('Opening handshake has timed out')) return new MemweaveError('net', 'timeout', `connecting to ${where} timed out`, { cause: err })
  return toMemweaveError(err, 'net', `cannot connect to ${where}`)
}

