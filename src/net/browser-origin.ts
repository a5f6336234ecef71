/**
 * Which browsers may talk to a TCP listener. A browser sends `Origin` with
 * every WebSocket upgrade and `Host` with every request; a page from another
 * site (or a DNS-rebinding name that points at 127.0.0.1) can reach a
 * loopback port, so both are checked against the listener's own names:
 *
 *   listener ws://127.0.0.1:P   own hosts: 127.0.0.1:P, localhost:P, [::1]:P
 *   Host: must be one of them (or a configured origin's host)
 *   Origin (when sent): http(s)://one of them, or a configured extra origin
 *
 * Origin and Host are each checked against that list, never against each
 * other. A listener on a wildcard address (0.0.0.0, ::) owns the machine's
 * interface addresses and the loopback names. Non-browser clients (the CLI,
 * peers) send no Origin and pass on their token.
 *
 * `browserRefusal` is the one check every request on a TCP listener goes
 * through (WebSocket upgrades and page requests alike).
 */
import type { IncomingMessage } from 'node:http'
import { networkInterfaces } from 'node:os'
import { MemweaveError } from '../errors/index.js'

export interface ListenerSite {
  /** The bound host (as given to listen) and port. */
  readonly host: string
  readonly port: number
  readonly tls: boolean
  /** Further origins allowed to connect (`https://tool.example:8443`), exactly as a browser sends them. */
  readonly extraOrigins?: readonly string[]
}

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', ''])
const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]']

function bracket(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host
}

function defaultPort(tls: boolean): number {
  return tls ? 443 : 80
}

/** The `host:port` names a browser may use for this listener (its own names, then configured origins' hosts). */
export function ownHosts(site: ListenerSite): string[] {
  const names = WILDCARD_HOSTS.has(site.host)
    ? [...LOOPBACK_NAMES, ...Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => bracket(i.address)))]
    : [bracket(site.host), ...LOOPBACK_NAMES]
  const own = names.map((name) => `${name}:${site.port}`.toLowerCase())
  const extra = (site.extraOrigins ?? []).map((o) => parseAllowedOrigin(o).hostPort)
  return [...new Set([...own, ...extra])]
}

/** Why a request's Host is refused, or undefined when it names this listener. */
export function hostRefusal(hostHeader: string | undefined, site: ListenerSite): string | undefined {
  if (hostHeader === undefined || hostHeader === '') return 'no Host header'
  const host = hostHeader.toLowerCase()
  // A browser leaves the scheme's default port out of Host.
  const withPort = /:\d+$/.test(host) && !/^\[[^\]]*\]$/.test(host) ? host : `${host}:${defaultPort(site.tls)}`
  if (ownHosts(site).includes(withPort)) return undefined
  return `Host '${printable(hostHeader)}' is not this daemon`
}

/** Why a browser's Origin is refused, or undefined when it may connect (no Origin: not a browser). Never compared with Host. */
export function originRefusal(originHeader: string | undefined, _hostHeader: string | undefined, site: ListenerSite): string | undefined {
  if (originHeader === undefined) return undefined
  const origin = originHeader.toLowerCase()
  if (site.extraOrigins?.some((o) => parseAllowedOrigin(o).origin === origin) === true) return undefined
  const scheme = site.tls ? 'https' : 'http'
  const suffix = `:${site.port}`
  const own = ownHosts({ ...site, extraOrigins: [] }).map((h) => (site.port === defaultPort(site.tls) ? h.slice(0, -suffix.length) : h))
  if (own.some((h) => origin === `${scheme}://${h}`)) return undefined
  return `Origin '${printable(originHeader)}' is not allowed here (allow it with --allow-origin)`
}

/**
 * The refusal (HTTP status and reason) for a request on a TCP listener, or undefined to go on: 421 for a foreign Host, 403 for a foreign Origin.
 * `nullOrigin`: `Origin: null` passes — what the page's own form posts carry under `Referrer-Policy: no-referrer`
 * (for the download endpoint, whose one-time ticket in the body is the credential; a foreign origin is still refused).
 */
export function browserRefusal(request: IncomingMessage, site: ListenerSite, nullOrigin = false): { status: 400 | 403 | 421; reason: string } | undefined {
  const host = hostRefusal(request.headers.host, site)
  // 421 Misdirected Request: the name is not this daemon's (DNS rebinding, or a wrong address).
  if (host !== undefined) return { status: request.headers.host === undefined ? 400 : 421, reason: host }
  if (nullOrigin && request.headers.origin === 'null') return undefined
  const origin = originRefusal(request.headers.origin, request.headers.host, site)
  return origin === undefined ? undefined : { status: 403, reason: origin }
}

/** The page's own origin and the WebSocket origin its CSP lets it connect to, for the Host it was loaded from. */
export function siteOrigins(hostHeader: string, site: ListenerSite): { page: string; socket: string } {
  return { page: `${site.tls ? 'https' : 'http'}://${hostHeader}`, socket: `${site.tls ? 'wss' : 'ws'}://${hostHeader}` }
}

/** 'https://Host:443/' → { origin: 'https://host', hostPort: 'host:443' }; anything but a bare http(s) origin is refused. */
export function parseAllowedOrigin(text: string): { origin: string; hostPort: string } {
  let url: URL
  try {
    url = new URL(text)
  } catch (err) {
    throw new MemweaveError('config', 'invalid_argument', `allowed origin '${printable(text)}' is not a URL like https://host[:port]`, { cause: err })
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.pathname !== '/' || url.search !== '' || url.hash !== '' || url.username !== '') {
    throw new MemweaveError('config', 'invalid_argument', `allowed origin '${printable(text)}' must be http(s)://host[:port] and nothing more`)
  }
  const port = url.port !== '' ? url.port : url.protocol === 'https:' ? '443' : '80'
  return { origin: url.origin, hostPort: `${url.hostname}:${port}` }
}

function printable(text: string): string {
  const shown = text.replace(/[^\x20-\x7e]/g, '?')
  return shown.length > 100 ? `${shown.slice(0, 100)}…` : shown
}
