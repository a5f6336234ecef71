/**
 * The daemon's listener: serves one Tree over WebSocket on unix sockets and
 * TCP (optionally TLS). Each accepted WebSocket becomes a ServerConnection
 * with its own owner id (`conn-N`); closing the server closes them all and
 * removes the unix socket files it created.
 *
 * Access (docs/access.md): unix sockets are owner-only files and need no
 * token; every TCP listener needs one, loopback included — the configured
 * token, a named token from the store, or else one generated here and
 * written to `<stateDir>/tcp-<PORT>.token` (0600) for local clients of the
 * same user, removed on close. Every request on a TCP listener passes the
 * browser checks (browser-origin.ts) first.
 */
import { randomUUID } from 'node:crypto'
import { chmod, chown, readFile, stat, unlink } from 'node:fs/promises'
import { createServer as createHttpServer } from 'node:http'
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { Duplex } from 'node:stream'
import type { Logger } from 'pino'
import { WebSocketServer } from 'ws'
import { MemweaveError, toMemweaveError } from '../errors/index.js'
import { MEMWEAVE_VERSION } from '../version.js'
import type { Tree } from '../tree/index.js'
import { AuditLog } from './auth/audit.js'
import { adminCredential, Authenticator } from './auth/credentials.js'
import type { Credential } from './auth/credentials.js'
import { runtimeStateDir } from './auth/state-dir.js'
import { autoTokenPath, newToken, removeAutoToken, writeAutoToken } from './auth/token-file.js'
import { browserRefusal, siteOrigins } from './browser-origin.js'
import type { ListenerSite } from './browser-origin.js'
import { BrowserTickets } from './browser-tickets.js'
import { formatEndpoint, isLoopbackHost, parseEndpoint } from './listen-address.js'
import type { Endpoint } from './listen-address.js'
import { CLOSE_CODES, PROTOCOL_VERSION } from './messages.js'
import type { ServerHello } from './messages.js'
import { ServerConnection } from './server-connection.js'
import type { ConnectionContext } from './connection-context.js'
import { resolveDataRingPolicy } from './server-data-ring.js'
import { ChannelTickets, isChannelUpgrade } from './server-data-channel.js'
import type { DataRingPolicy } from './server-data-ring.js'
import { DaemonBudget } from './server-budget.js'
import { DOWNLOAD_ACTION, Downloads } from './downloads.js'
import type { BudgetStats } from './server-budget.js'
import { resolveLimits } from './server-limits.js'
import type { ServerLimits } from './server-limits.js'
import { prepareUnixSocket } from './unix-socket.js'

export interface ServerOptions {
  tree: Tree
  /** `unix:/path/to.sock`, `ws://HOST:PORT`, `wss://HOST:PORT` (port 0 picks a free one). */
  listen: readonly string[]
  /**
   * An admin token. Required for TCP listeners not bound to loopback; without one, a token is generated
   * for the loopback TCP listeners and written to `<stateDir>/tcp-<PORT>.token`. Unix clients need none.
   */
  token?: string
  /** A group (numeric gid) whose members may use the unix sockets too: they are made 0660 and given to it. */
  socketGroup?: number
  /** Where auto tokens go (default: $MEMWEAVE_STATE_DIR, /run/memweave for root, $XDG_RUNTIME_DIR/memweave, /tmp/memweave-UID). */
  stateDir?: string
  /** Named tokens (roles, path limits), read on each hello. */
  tokenStore?: () => readonly Credential[]
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
  /** TCP data channels (protocol 1.6, data-channel.ts) for clients that ask; false offers none, as a 1.5 daemon. On by default. */
  dataChannels?: boolean
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
  /** Auto-generated token files (one per TCP listener), removed on close. */
  readonly tokenFiles: string[]
  connections(): number
  /** The daemon-wide memory budget's use (sys/ and the soak suite show it). */
  budget(): BudgetStats
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
  const stateDir = options.stateDir ?? runtimeStateDir()
  const autoToken = endpoints.some((e) => e.kind === 'tcp') && options.token === undefined ? newToken() : undefined
  const fixed = [options.token, autoToken].flatMap((t, i) => (t === undefined ? [] : [adminCredential(i === 0 ? 'configured' : 'auto', t)]))
  const auth = new Authenticator({
    fixed,
    store: options.tokenStore,
    tokenHint: (port) => (autoToken !== undefined && port !== undefined ? autoTokenPath(port, stateDir) : undefined),
  })
  const audit = new AuditLog(log)
  const budget = new DaemonBudget(limits.budgetBytes)
  const downloads = new Downloads(options.tree, log)
  const context: ConnectionContext = {
    tree: options.tree, log, limits, auth, audit, nodeId, budget, tickets: new BrowserTickets(), pages: pageUrls, downloads,
    dataRing: options.dataRing === false ? undefined : resolveDataRingPolicy(options.dataRing ?? {}),
    ...(options.dataChannels === false ? {} : { channels: new ChannelTickets() }),
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
    const peer = local ? 'unix' : `${request.socket.remoteAddress ?? '?'}:${request.socket.remotePort ?? '?'}`
    // A browser (it sends Origin) must come from one of this daemon's own origins; every TCP request must name it in Host.
    const refusal = site === undefined ? undefined : browserRefusal(request, site)
    if (refusal !== undefined) {
      audit.refused({ transport: 'tcp', address: peer }, refusal.reason)
      socket.end(`HTTP/1.1 ${refusal.status} ${STATUS_TEXT[refusal.status]}\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\n${refusal.reason}\n`)
      return
    }
    // A data channel joins a session that is already in (and counted); it is refused only while closing.
    const channels = context.channels
    if (isChannelUpgrade(request) && channels !== undefined && !closing) {
      channels.accept({ request, socket, head, site, peer, audit, log, find: (owner) => [...connections].find((c) => c.owner === owner) })
      return
    }
    if (closing || connections.size >= limits.maxConnections) {
      log.warn({ connections: connections.size }, 'refusing a connection: server full or closing')
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n')
      return
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      if (closing) { ws.terminate(); return }
      const connection = new ServerConnection(ws, { ...context, transport: local ? 'unix' : 'tcp', port: site?.port }, peer, local, request.headers.origin !== undefined)
      connections.add(connection)
      void connection.finished.then(() => connections.delete(connection))
    })
  }

  // Only while another client waits for free room: a holder whose replies have not moved in stallCutoffMs is cut off,
  // freeing its share (requests waiting behind their own client's share are in nobody's way).
  const stallWatch = setInterval(() => {
    if (!budget.contended) return
    const now = Date.now()
    for (const connection of connections) {
      const stalled = connection.stalledMs(now)
      if (stalled < limits.stallCutoffMs || !budget.waitingForRoomBesides(connection.owner)) continue
      log.info({ conn: connection.owner, stalledMs: stalled, budget: budget.stats }, 'cutting off a client that holds memory budget without reading while others wait')
      connection.terminate()
    }
  }, Math.max(100, Math.min(1000, limits.stallCutoffMs / 4)))
  stallWatch.unref()

  const tls = endpoints.some((e) => e.kind === 'tcp' && e.tls) ? await loadTls(options.tls) : undefined
  const tokenFiles: string[] = []
  const removeTokenFiles = async (): Promise<void> => {
    if (autoToken !== undefined) await Promise.all(tokenFiles.map((file) => removeAutoToken(file, autoToken)))
  }
  try {
    for (const endpoint of endpoints) {
      const listener = await listen(endpoint, tls, onUpgrade, { pages: options.pages, downloads }, options.allowedOrigins, options.socketGroup, log)
      listeners.push(listener)
      if (autoToken !== undefined && listener.site !== undefined) tokenFiles.push(await writeAutoToken(listener.site.port, autoToken, stateDir))
    }
  } catch (err) {
    clearInterval(stallWatch)
    await Promise.all(listeners.map((l) => closeListener(l, log)))
    await removeTokenFiles()
    throw err
  }
  const addresses = listeners.map((l) => l.address)
  const token = options.token !== undefined ? 'configured' : autoToken !== undefined ? 'auto' : 'none (unix sockets only)'
  log.info({ addresses, nodeId, token, tokenFiles, pages: pageUrls() }, 'memweave daemon listening')
  for (const file of tokenFiles) log.info({ tokenFile: file }, 'TCP token written (mode 0600; local clients of this user read it by themselves)')

  return {
    addresses,
    tokenFiles,
    pages: pageUrls(),
    connections: () => connections.size,
    budget: () => budget.stats,
    close: async () => {
      if (closing) return
      closing = true
      clearInterval(stallWatch)
      const open = [...connections]
      for (const connection of open) connection.hangUp(CLOSE_CODES.goingAway, 'daemon shutting down')
      const grace = new Promise<void>((resolve) => setTimeout(resolve, CLOSE_GRACE_MS).unref())
      await Promise.race([Promise.all(open.map((c) => c.finished)), grace])
      for (const connection of connections) connection.terminate()
      await Promise.all([...listeners.map((l) => closeListener(l, log)), ...open.map((c) => c.finished)])
      await removeTokenFiles()
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
  onUpgrade: UpgradeHandler, http: { readonly pages: PageServer | undefined; readonly downloads: Downloads }, extraOrigins: readonly string[] | undefined, socketGroup: number | undefined, log: Logger,
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
    const download = (request.url ?? '').split('?')[0] === DOWNLOAD_ACTION
    const refusal = site === undefined ? undefined : browserRefusal(request, site, download)
    if (refusal !== undefined) {
      log.warn({ reason: refusal.reason }, 'refusing an HTTP request')
      response.writeHead(refusal.status, { 'content-type': 'text/plain', 'x-content-type-options': 'nosniff' })
      response.end(refusal.status === 421 ? 'misdirected request: this daemon answers only to its own address\n' : `${refusal.reason}\n`)
      return
    }
    // A download ticket is the credential (in the body, never the URL); Host and Origin were checked above.
    if (download) { void http.downloads.serve(request, response); return }
    const pages = http.pages
    if (pages === undefined || site === undefined) {
      response.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' })
      response.end('this is a memweave daemon: connect with a memweave client (WebSocket + msgpack)\n')
      return
    }
    pages.serve(request, response, siteOrigins(request.headers.host ?? '', site))
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
    site = { host: endpoint.host, port, tls: endpoint.tls, extraOrigins }
    return { server, address: formatEndpoint({ ...endpoint, port }), site }
  }
  // The socket file is the access control for unix clients (no token there): owner only, or owner and one group.
  if (socketGroup === undefined) {
    await chmod(endpoint.path, 0o600)
  } else {
    await chown(endpoint.path, process.getuid?.() ?? -1, socketGroup).catch((err: unknown) => { throw toMemweaveError(err, 'net', `cannot give ${endpoint.path} to group ${socketGroup}`) })
    await chmod(endpoint.path, 0o660)
  }
  return { server, address: what, socketFile: { path: endpoint.path, ino: (await stat(endpoint.path)).ino } }
}

const STATUS_TEXT: Readonly<Record<number, string>> = { 400: 'Bad Request', 403: 'Forbidden', 421: 'Misdirected Request' }

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
