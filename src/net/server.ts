/**
 * The daemon's listener: serves one Tree over WebSocket on unix sockets and
 * TCP (optionally TLS). Each accepted WebSocket becomes a ServerConnection
 * with its own owner id (`conn-N`); closing the server closes them all and
 * removes the unix socket files it created.
 */
import { randomUUID } from 'node:crypto'
import { chmod, readFile, stat, unlink } from 'node:fs/promises'
import { createServer as createHttpServer } from 'node:http'
import type { IncomingMessage, Server as HttpServer } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { Duplex } from 'node:stream'
import type { Logger } from 'pino'
import { WebSocketServer } from 'ws'
import { MemweaveError, toMemweaveError } from '../errors/index.js'
import { MEMWEAVE_VERSION } from '../version.js'
import type { Tree } from '../tree/index.js'
import { formatEndpoint, isLoopbackHost, parseEndpoint } from './listen-address.js'
import type { Endpoint } from './listen-address.js'
import { CLOSE_CODES, PROTOCOL_VERSION } from './messages.js'
import type { ServerHello } from './messages.js'
import { ServerConnection } from './server-connection.js'
import type { ConnectionContext } from './server-connection.js'
import { resolveDataRingPolicy } from './server-data-ring.js'
import type { DataRingPolicy } from './server-data-ring.js'
import { DaemonBudget } from './server-budget.js'
import type { BudgetStats } from './server-budget.js'
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
}

export interface RunningServer {
  /** The URLs actually bound, with the real port where 0 was asked. */
  readonly addresses: string[]
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
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const limits = resolveLimits(options.limits)
  const endpoints = options.listen.map(parseEndpoint)
  checkPolicy(endpoints, options)
  const log = options.log.child({ component: 'server' })
  const nodeInfo = options.nodeInfo ?? ((): Record<string, unknown> => ({ version: MEMWEAVE_VERSION, pid: process.pid }))
  const named = nodeInfo().nodeId
  const nodeId = typeof named === 'string' && named !== '' ? named : randomUUID()
  const budget = new DaemonBudget(limits.budgetBytes)
  const context: ConnectionContext = {
    tree: options.tree, log, limits, token: options.token, nodeId, budget,
    dataRing: options.dataRing === false ? undefined : resolveDataRingPolicy(options.dataRing ?? {}),
    hello: (owner): ServerHello => ({
      version: PROTOCOL_VERSION, nodeId, connection: owner, node: nodeInfo(),
      limits: { maxMessageBytes: limits.maxMessageBytes, maxPieces: options.tree.maxPieces, maxBatchBytes: options.tree.maxBatchBytes, maxInFlight: limits.maxInFlight },
    }),
  }
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: limits.maxMessageBytes, clientTracking: false })
  const connections = new Set<ServerConnection>()
  let closing = false

  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer, local: boolean): void => {
    if (closing || connections.size >= limits.maxConnections) {
      log.warn({ connections: connections.size }, 'refusing a connection: server full or closing')
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n')
      return
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      if (closing) { ws.terminate(); return }
      const connection = new ServerConnection(ws, context, request.socket.remoteAddress ?? 'unix', local)
      connections.add(connection)
      void connection.finished.then(() => connections.delete(connection))
    })
  }

  // Only while someone waits for budget: a holder whose replies have not moved in stallCutoffMs is cut off, freeing its share.
  const stallWatch = setInterval(() => {
    if (!budget.contended) return
    const now = Date.now()
    for (const connection of connections) {
      const stalled = connection.stalledMs(now)
      if (stalled < limits.stallCutoffMs) continue
      log.info({ conn: connection.owner, stalledMs: stalled, budget: budget.stats }, 'cutting off a client that holds memory budget without reading while others wait')
      connection.terminate()
    }
  }, Math.max(100, Math.min(1000, limits.stallCutoffMs / 4)))
  stallWatch.unref()

  const tls = endpoints.some((e) => e.kind === 'tcp' && e.tls) ? await loadTls(options.tls) : undefined
  const listeners: Listener[] = []
  try {
    for (const endpoint of endpoints) {
      const local = endpoint.kind === 'unix'
      listeners.push(await listen(endpoint, tls, (request, socket, head) => onUpgrade(request, socket, head, local), log))
    }
  } catch (err) {
    clearInterval(stallWatch)
    await Promise.all(listeners.map((l) => closeListener(l, log)))
    throw err
  }
  const addresses = listeners.map((l) => l.address)
  log.info({ addresses, nodeId, auth: options.token !== undefined }, 'memweave daemon listening')

  return {
    addresses,
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
  onUpgrade: (request: IncomingMessage, socket: Duplex, head: Buffer) => void, log: Logger,
): Promise<Listener> {
  if (endpoint.kind === 'unix') await prepareUnixSocket(endpoint.path)
  const server = endpoint.kind === 'tcp' && endpoint.tls ? createHttpsServer({ ...tls }) : createHttpServer()
  server.on('upgrade', onUpgrade)
  server.on('request', (_request, response) => {
    response.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' })
    response.end('this is a memweave daemon: connect with a memweave client (WebSocket + msgpack)\n')
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
    return { server, address: formatEndpoint({ ...endpoint, port }) }
  }
  // The socket file is the access control for unix clients (no token there): owner only.
  await chmod(endpoint.path, 0o600)
  return { server, address: what, socketFile: { path: endpoint.path, ino: (await stat(endpoint.path)).ino } }
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
