/**
 * Which browsers may talk to a TCP listener. A browser sends `Origin` with
 * every WebSocket upgrade and `Host` with every request; a page from another
 * site (or a DNS-rebinding name that points at 127.0.0.1) can reach a
 * loopback port, so both are checked against the listener's own names:
 *
 *   listener ws://127.0.0.1:P   own hosts: 127.0.0.1:P, localhost:P
 *   Host: must be one of them    Origin (when sent): http(s)://one of them, or a configured extra origin
 *
 * Non-browser clients (the CLI, peers) send no Origin and pass on their token.
 * A listener on a wildcard address (0.0.0.0, ::) knows no own name: there any
 * Host is taken, and an Origin must match that Host.
 */
import { isLoopbackHost } from './listen-address.js'

export interface ListenerSite {
  /** The bound host (as given to listen) and port. */
  readonly host: string
  readonly port: number
  readonly tls: boolean
  /** Further origins allowed to connect (`https://tool.example:8443`), exactly as a browser sends them. */
  readonly extraOrigins?: readonly string[]
}

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', ''])

/** The `host:port` names a browser may use for this listener; undefined on a wildcard address. */
export function ownHosts(site: ListenerSite): string[] | undefined {
  if (WILDCARD_HOSTS.has(site.host)) return undefined
  const bracket = (h: string): string => (h.includes(':') ? `[${h}]` : h)
  const names = isLoopbackHost(site.host) ? [bracket(site.host), 'localhost'] : [bracket(site.host)]
  return [...new Set(names)].map((name) => `${name}:${site.port}`.toLowerCase())
}

/** Why a request's Host is refused, or undefined when it names this listener. */
export function hostRefusal(hostHeader: string | undefined, site: ListenerSite): string | undefined {
  if (hostHeader === undefined || hostHeader === '') return 'no Host header'
  const own = ownHosts(site)
  if (own === undefined || own.includes(hostHeader.toLowerCase())) return undefined
  return `Host '${hostHeader.slice(0, 100)}' is not this daemon (${own.join(', ')})`
}

/** Why a browser's Origin is refused, or undefined when it may connect (no Origin: not a browser). */
export function originRefusal(originHeader: string | undefined, hostHeader: string | undefined, site: ListenerSite): string | undefined {
  if (originHeader === undefined) return undefined
  const origin = originHeader.toLowerCase()
  if (site.extraOrigins?.some((o) => o.toLowerCase() === origin) === true) return undefined
  const scheme = site.tls ? 'https' : 'http'
  const hosts = ownHosts(site) ?? (hostHeader === undefined ? [] : [hostHeader.toLowerCase()])
  if (hosts.some((h) => origin === `${scheme}://${h}`)) return undefined
  return `Origin '${originHeader.slice(0, 100)}' is not allowed here`
}

/** The page's own origin and the WebSocket origin its CSP lets it connect to, for the Host it was loaded from. */
export function siteOrigins(hostHeader: string, site: ListenerSite): { page: string; socket: string } {
  return { page: `${site.tls ? 'https' : 'http'}://${hostHeader}`, socket: `${site.tls ? 'wss' : 'ws'}://${hostHeader}` }
}
