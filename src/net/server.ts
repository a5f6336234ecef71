/**
 * The daemon's listener: serves one Tree over WebSocket on unix sockets and
 * TCP (optionally TLS). Each accepted WebSocket becomes a ServerConnection
 * with its own owner id (`conn-N`); closing the server closes them all and
 * removes the unix socket files it created.
 */
import { randomUUID } from 'node:crypto'
import { chmod, readFile, stat, unlink } from 'node:fs/promises'
import { createServer as createHttpServer } from 'node:http'
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { Duplex } from 'node:stream'
import type { Logger } from 'pino'
import { WebSocketServer } from 'ws'
import { MemweaveError, toMemweaveError } from '../errors/index.js'
import { MEMWEAVE_VERSION } from '../version.js'
import type { Tree } from '../tree/index.js'
import { hostRefusal, originRefusal, siteOrigins } from './browser-origin.js'
import type { ListenerSite } from './browser-origin.js'
import { BrowserTickets } from './browser-tickets.js'
import { formatEndpoint, isLoopbackHost, parseEndpoint } from './listen-address.js'
import type { Endpoint } from './listen-address.js'
import { CLOSE_CODES, PROTOCOL_VERSION } from './messages.js'
import type { ServerHello } from './messages.js'
import { ServerConnection } from './server-connection.js'
import type { ConnectionContext } from './server-connection.js'
import { resolveDataRingPolicy } from './server-data-ring.js'
import type { DataRingPolicy } from './server-data-ring.js'
import { resolveLimits } from './server-limits.js'
import type { ServerLimits } from './server-limits.js'
import { prepareUnixSocket } from './unix-socket.js'

export interface ServerOptions {
  tree: Tree
  /** `unix:/path/to.sock`, `ws://HOST:PORT`, `wss://HOST:PORT` (port 0 picks a free one). */
  listen: readonly string[]
  /** Required for TCP listeners not bound to loopback; when set, every hello must carry it. */
  token?: string
  log: Logger
  /** What hello reports about this node (a `nodeId` string here names the node for peers). */
  nodeInfo?: () => Record<string, unknown>
  limits?: Partial<ServerLimits>
  /** Certificate and key (PEM files) for wss:// listeners. */
  tls?: { certFile: string; keyFile: string }
  /**
   * Shared data rings for unix-socket clients that offer one (protocol 1.1): bounds and thresholds,
   * or false to ignore offers as a 1.0 daemon would. On by default.
   */
  dataRing?: Partial<DataRingPolicy> | false
  /** A web page served by HTTP GET on the TCP listeners (the web frontend); without it GETs get 426. */
  pages?: PageServer
  /** Origins besides each listener's own that browsers may connect from. */
  allowedOrigins?: readonly string[]
}

/** Serves the web page's files; called only for requests whose Host names the listener. */
export interface PageServer {
  serve(request: IncomingMessage, response: ServerResponse, origins: { readonly page: string; readonly socket: string }): void
}

export interface RunningServer {
  /** The URLs actually bound, with the real port where 0 was asked. */
  readonly addresses: string[]
  /** The web page's URLs (one per TCP listener) when pages are served; without a ticket. */
  readonly pages: string[]
  connections(): number
  close(): Promise<void>
}

/** How long close() lets clients answer the close handshake before cutting them off. */
const CLOSE_GRACE_MS = 2000

interface Listener {
  readonly server: HttpServer
  readonly address: string
  /** A unix socket file we created (removed on close if still ours). */
  readonly socketFile?: { path: string; ino: number }
  /** A TCP listener's names, for the Host and Origin checks of browsers. */
  readonly site?: ListenerSite
}

/** `site`: the TCP listener the request came to; undefined for a unix socket. */
type UpgradeHandler = (request: IncomingMessage, socket: Duplex, head: Buffer, site: ListenerSite | undefined) => void

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const limits = resolveLimits(options.limits)
  const endpoints = options.listen.map(parseEndpoint)
  checkPolicy(endpoints, options)
  const log = options.log.child({ component: 'server' })
  const nodeInfo = options.nodeInfo ?? ((): Record<string, unknown> => ({ version: MEMWEAVE_VERSION, pid: process.pid }))
  const named = nodeInfo().nodeId
  const nodeId = typeof named === 'string' && named !== '' ? named : randomUUID()
  const listeners: Listener[] = []
  const pageUrls = (): string[] => options.pages === undefined ? [] : listeners.flatMap((l) => l.site === undefined ? [] : [pageUrl(l.site)])
  const context: ConnectionContext = {
    tree: options.tree, log, limits, token: options.token, nodeId, tickets: new BrowserTickets(), pages: pageUrls,
    dataRing: options.dataRing === false ? undefined : resolveDataRingPolicy(options.dataRing ?? {}),
    hello: (owner): ServerHello => ({
      version: PROTOCOL_VERSION, nodeId, connection: owner, node: nodeInfo(),
      limits: { maxMessageBytes: limits.maxMessageBytes, maxPieces: options.tree.maxPieces, maxBatchBytes: options.tree.maxBatchBytes, maxInFlight: limits.maxInFlight },
    }),
  }
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: limits.maxMessageBytes, clientTracking: false })
  const connections = new Set<ServerConnection>()
  let closing = false

  const onUpgrade: UpgradeHandler = (request, socket, head, site) => {
    const local = site === undefined
    // A browser (it sends Origin) must come from this daemon's own page on one of its own names.
    const refusal = site === undefined || request.headers.origin === undefined ? undefined
      : hostRefusal(request.headers.host, site) ?? originRefusal(request.headers.origin, request.headers.host, { ...site, extraOrigins: options.allowedOrigins })
    if (refusal !== undefined) {
      log.warn({ reason: refusal }, 'refusing a browser connection')
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\nthis origin may not connect to the memweave daemon\n')
      return
    }
    if (closing || connections.size >= limits.maxConnections) {
      log.warn({ connections: connections.size }, 'refusing a connection: server full or closing')
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n')
      return
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      if (closing) { ws.terminate(); return }
      const connection = new ServerConnection(ws, context, request.socket.remoteAddress ?? 'unix', local, request.headers.origin !== undefined)
      connections.add(connection)
      void connection.finished.then(() => connections.delete(connection))
    })
  }

  const tls = endpoints.some((e) => e.kind === 'tcp' && e.tls) ? await loadTls(options.tls) : undefined
  try {
    for (const endpoint of endpoints) listeners.push(await listen(endpoint, tls, onUpgrade, options.pages, log))
  } catch (err) {
    await Promise.all(listeners.map((l) => closeListener(l, log)))
    throw err
  }
  const addresses = listeners.map((l) => l.address)
  log.info({ addresses, nodeId, auth: options.token !== undefined, pages: pageUrls() }, 'memweave daemon listening')

  return {
    addresses,
    pages: pageUrls(),
    connections: () => connections.size,
    close: async () => {
      if (closing) return
      closing = true
      const open = [...connections]
      for (const connection of open) connection.hangUp(CLOSE_CODES.goingAway, 'daemon shutting down')
      const grace = new Promise<void>((resolve) => setTimeout(resolve, CLOSE_GRACE_MS).unref())
      await Promise.race([Promise.all(open.map((c) => c.finished)), grace])
      for (const connection of connections) connection.terminate()
      await Promise.all([...listeners.map((l) => closeListener(l, log)), ...open.map((c) => c.finished)])
      log.info('memweave daemon stopped listening')
    },
  }
}

/** A token is mandatory beyond loopback; TLS listeners need a certificate. */
function checkPolicy(endpoints: readonly Endpoint[], options: ServerOptions): void {
  if (endpoints.length === 0) throw new MemweaveError('config', 'invalid_argument', 'nothing to listen on: give at least one unix:/path or ws://HOST:PORT')
  if (options.token !== undefined && options.token.length === 0) {
    throw new MemweaveError('config', 'invalid_argument', 'the token is empty (an unset variable?); give a real token or none')
  }
  for (const endpoint of endpoints) {
    if (endpoint.kind !== 'tcp') continue
    if (!isLoopbackHost(endpoint.host) && options.token === undefined) {
      throw new MemweaveError('config', 'invalid_argument',
        `refusing to listen on ${formatEndpoint(endpoint)} without a token: anything beyond loopback needs one (or listen on 127.0.0.1 / a unix socket)`)
    }
    if (endpoint.tls && options.tls === undefined) {
      throw new MemweaveError('config', 'invalid_argument', `${formatEndpoint(endpoint)} needs a TLS certificate and key`)
    }
    if (!endpoint.tls && !isLoopbackHost(endpoint.host)) {
      options.log.warn({ address: formatEndpoint(endpoint) }, 'listening beyond loopback without TLS: the token travels in clear text')
    }
  }
}

async function loadTls(tls: ServerOptions['tls']): Promise<{ cert: Buffer; key: Buffer } | undefined> {
  if (tls === undefined) return undefined
  const read = async (path: string, what: string): Promise<Buffer> => {
    try {
      return await readFile(path)
    } catch (err) {
      throw toMemweaveError(err, 'config', `cannot read the TLS ${what} ${path}`)
    }
  }
  return { cert: await read(tls.certFile, 'certificate'), key: await read(tls.keyFile, 'key') }
}

async function listen(
  endpoint: Endpoint, tls: { cert: Buffer; key: Buffer } | undefined,
  onUpgrade: UpgradeHandler, pages: PageServer | undefined, log: Logger,
): Promise<Listener> {
  if (endpoint.kind === 'unix') await prepareUnixSocket(endpoint.path)
  const server = endpoint.kind === 'tcp' && endpoint.tls ? createHttpsServer({ ...tls }) : createHttpServer()
  // The port is known once bound; the handlers read the site then.
  let site: ListenerSite | undefined
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (endpoint.kind === 'tcp' && site === undefined) { socket.destroy(); return }
    onUpgrade(request, socket, head, site)
  })
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    if (pages === undefined || site === undefined) {
      response.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' })
      response.end('this is a memweave daemon: connect with a memweave client (WebSocket + msgpack)\n')
      return
    }
    const refusal = hostRefusal(request.headers.host, site)
    if (refusal !== undefined || request.headers.host === undefined) {
      log.warn({ reason: refusal }, 'refusing a page request')
      response.writeHead(421, { 'content-type': 'text/plain', 'x-content-type-options': 'nosniff' })
      response.end('misdirected request: this daemon answers only to its own address\n')
      return
    }
    pages.serve(request, response, siteOrigins(request.headers.host, site))
  })
  server.on('clientError', (_err, socket: Duplex) => socket.destroy())
  const what = formatEndpoint(endpoint)
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => {
      const busy = 'code' in err && err.code === 'EADDRINUSE'
      reject(busy ? new MemweaveError('net', 'busy', `cannot listen on ${what}: address already in use`, { cause: err }) : toMemweaveError(err, 'net', `cannot listen on ${what}`))
    })
    if (endpoint.kind === 'unix') server.listen(endpoint.path, resolve)
    else server.listen(endpoint.port, endpoint.host, resolve)
  })
  server.on('error', (err) => log.warn({ err, address: what }, 'listener error'))
  if (endpoint.kind === 'tcp') {
    const bound = server.address()
    const port = typeof bound === 'object' && bound !== null ? bound.port : endpoint.port
    site = { host: endpoint.host, port, tls: endpoint.tls }
    return { server, address: formatEndpoint({ ...endpoint, port }), site }
  }
  // The socket file is the access control for unix clients (no token there): owner only.
  await chmod(endpoint.path, 0o600)
  return { server, address: what, socketFile: { path: endpoint.path, ino: (await stat(endpoint.path)).ino } }
}

/** The page's address on a listener: its own name, loopback spelled as the address it is bound to. */
function pageUrl(site: ListenerSite): string {
  const host = site.host === '0.0.0.0' || site.host === '' ? '127.0.0.1' : site.host === '::' ? '[::1]' : site.host.includes(':') ? `[${site.host}]` : site.host
  return `${site.tls ? 'https' : 'http'}://${host}:${site.port}/`
}

async function closeListener(listener: Listener, log: Logger): Promise<void> {
  await new Promise<void>((resolve) => {
    listener.server.close(() => resolve())
    listener.server.closeAllConnections()
  })
  const file = listener.socketFile
  if (file === undefined) return
  try {
    // Another daemon may have taken the path over since; only remove our own file.
    if ((await stat(file.path)).ino === file.ino) await unlink(file.path)
  } catch (err) {
    log.debug({ err, path: file.path }, 'socket file already gone')
  }
}
