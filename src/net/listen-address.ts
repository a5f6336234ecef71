/**
 * Where a daemon listens and a client connects: `unix:/path/to.sock`,
 * `ws://HOST:PORT` and `wss://HOST:PORT`, plus the default socket path and
 * the loopback test that decides whether a token is mandatory.
 */
import { isAbsolute, resolve } from 'node:path'
import { MemweaveError } from '../errors/index.js'

export type Endpoint =
  | { readonly kind: 'unix'; readonly path: string }
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number; readonly tls: boolean }

const DEFAULT_SOCKET_NAME = 'memweave.sock'

/**
 * `$MEMWEAVE_SOCKET`, else /run/memweave/memweave.sock for root, else
 * `$XDG_RUNTIME_DIR/memweave.sock`, else /tmp/memweave-UID/memweave.sock.
 */
export function defaultSocketPath(env: NodeJS.ProcessEnv = process.env, uid: number = process.getuid?.() ?? -1): string {
  const configured = env.MEMWEAVE_SOCKET
  if (configured !== undefined && configured !== '') return resolve(configured)
  if (uid === 0) return `/run/memweave/${DEFAULT_SOCKET_NAME}`
  const runtimeDir = env.XDG_RUNTIME_DIR
  if (runtimeDir !== undefined && isAbsolute(runtimeDir)) return `${runtimeDir}/${DEFAULT_SOCKET_NAME}`
  return `/tmp/memweave-${uid}/${DEFAULT_SOCKET_NAME}`
}

/** The private directories the default path may live in; they are created 0700 and must be ours. */
export function isDefaultSocketDir(dir: string, uid: number = process.getuid?.() ?? -1): boolean {
  return dir === '/run/memweave' || dir === `/tmp/memweave-${uid}`
}

/** Parses a listen or connect URL; a bare absolute path is taken as a unix socket. */
export function parseEndpoint(url: string): Endpoint {
  if (url.startsWith('/')) return { kind: 'unix', path: url }
  if (url.startsWith('unix:')) {
    const rest = url.slice('unix:'.length).replace(/^\/\/(?=\/)/, '')
    if (rest === '') throw new MemweaveError('net', 'invalid_argument', `'${url}' names no socket path (write unix:/path/to.sock)`)
    return { kind: 'unix', path: resolve(rest) }
  }
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch (err) {
    throw new MemweaveError('net', 'invalid_argument', `'${url}' is not a URL (use unix:/path, ws://HOST:PORT or wss://HOST:PORT)`, { cause: err })
  }
  if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') {
    throw new MemweaveError('net', 'invalid_argument', `'${url}': unsupported scheme '${parsed.protocol}' (use unix:, ws: or wss:)`)
  }
  if (parsed.username !== '' || parsed.password !== '') {
    throw new MemweaveError('net', 'invalid_argument', 'credentials do not belong in the URL; pass the token separately')
  }
  // URL hides a scheme's default port (80, 443), so read the written one.
  const written = /^[a-z]+:\/\/(?:\[[^\]]*\]|[^/:]*):(\d+)\/?$/i.exec(url)?.[1]
  if (written === undefined) {
    throw new MemweaveError('net', 'invalid_argument', `'${url}' needs an explicit port and no path (ws://HOST:PORT; port 0 picks a free one)`)
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1')
  return { kind: 'tcp', host, port: Number(written), tls: parsed.protocol === 'wss:' }
}

export function formatEndpoint(endpoint: Endpoint): string {
  if (endpoint.kind === 'unix') return `unix:${endpoint.path}`
  const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host
  return `${endpoint.tls ? 'wss' : 'ws'}://${host}:${endpoint.port}`
}

/** True for names and addresses that only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase()
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h) || /^::ffff:127\.\d+\.\d+\.\d+$/.test(h)
}
