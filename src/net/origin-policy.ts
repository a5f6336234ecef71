/**
 * Which browsers may talk to a TCP listener. A request that carries an
 * `Origin` (only browsers send one) is refused with 403 unless that origin
 * is one this daemon serves itself — http(s)://HOST:PORT with HOST one of
 * 127.0.0.1, localhost, [::1] or the listener's own address — or one the
 * admin configured (`--allow-origin`). The `Host` header must name one of
 * the same hosts at the listener's port (or a configured origin's host), so
 * a page on a rebound DNS name cannot reach it either. Origin and Host are
 * each checked against the allowlist, never against each other. Clients
 * that send no Origin (CLI, peers, Python) are unaffected.
 *
 * `checkBrowserRequest` is the one function every HTTP request on a TCP
 * listener goes through (upgrades today; pages served to the web UI too).
 */
import type { IncomingMessage } from 'node:http'
import { networkInterfaces } from 'node:os'
import { MemweaveError } from '../errors/index.js'
import { isLoopbackHost } from './listen-address.js'

export interface BrowserRefusal {
  readonly status: 400 | 403
  /** Short text for the response body and the log (never echoes more than a bounded piece of a header). */
  readonly reason: string
}

const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]']
const MAX_HEADER_SHOWN = 100

export class OriginPolicy {
  /** 'host:port' values a Host header may take. */
  private readonly hosts = new Set<string>()
  /** Exact origins ('http://127.0.0.1:7001') a browser may come from. */
  private readonly origins = new Set<string>()
  private readonly defaultPort: number

  /** `host`/`port`: what the listener is bound to (port the real one); `extraOrigins`: configured, exact. */
  constructor(host: string, port: number, tls: boolean, extraOrigins: readonly string[] = []) {
    const own = new Set(LOOPBACK_NAMES)
    if (host === '0.0.0.0' || host === '::') for (const address of interfaceAddresses()) own.add(bracket(address))
    else own.add(bracket(host.toLowerCase()))
    const scheme = tls ? 'https' : 'http'
    this.defaultPort = tls ? 443 : 80
    for (const name of own) {
      this.hosts.add(`${name}:${port}`)
      this.origins.add(port === this.defaultPort ? `${scheme}://${name}` : `${scheme}://${name}:${port}`)
    }
    for (const text of extraOrigins) {
      const origin = normalizeOrigin(text)
      this.origins.add(origin.origin)
      this.hosts.add(origin.hostPort)
    }
  }

  /** Every origin a browser page may come from (for messages and the web UI). */
  allowedOrigins(): string[] {
    return [...this.origins]
  }

  check(request: IncomingMessage): BrowserRefusal | undefined {
    const host = request.headers.host
    if (host === undefined || host === '') return { status: 400, reason: 'no Host header' }
    if (!this.hosts.has(withPort(host.toLowerCase(), this.defaultPort))) return { status: 403, reason: `Host '${shorten(host)}' is not one this daemon serves` }
    const origin = request.headers.origin
    if (origin === undefined) return undefined // not a browser
    if (!this.origins.has(origin.toLowerCase().replace(/\/$/, ''))) {
      return { status: 403, reason: `Origin '${shorten(origin)}' is not allowed (configure it with --allow-origin)` }
    }
    return undefined
  }
}

/** The refusal for a request on a TCP listener, or undefined to go on; unix listeners are not reachable from browsers. */
export function checkBrowserRequest(request: IncomingMessage, policy: OriginPolicy | undefined): BrowserRefusal | undefined {
  return policy?.check(request)
}

/** 'https://Host:443/' → { origin: 'https://host', hostPort: 'host:443' }; refuses anything but a bare http(s) origin. */
export function normalizeOrigin(text: string): { origin: string; hostPort: string } {
  let url: URL
  try {
    url = new URL(text)
  } catch (err) {
    throw new MemweaveError('config', 'invalid_argument', `allowed origin '${shorten(text)}' is not a URL like https://host[:port]`, { cause: err })
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.pathname !== '/' || url.search !== '' || url.username !== '' || url.password !== '') {
    throw new MemweaveError('config', 'invalid_argument', `allowed origin '${shorten(text)}' must be http(s)://host[:port] and nothing more`)
  }
  const port = url.port !== '' ? url.port : url.protocol === 'https:' ? '443' : '80'
  return { origin: url.origin, hostPort: `${url.hostname}:${port}` }
}

function withPort(host: string, defaultPort: number): string {
  // A browser leaves the scheme's default port out of Host (a daemon on 80/443 is unusual but possible).
  return /:\d+$/.test(host) && !/^\[[^\]]*\]$/.test(host) ? host : `${host}:${defaultPort}`
}

function bracket(address: string): string {
  return address.includes(':') && !address.startsWith('[') ? `[${address}]` : address
}

function interfaceAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address.toLowerCase())).filter((a) => !isLoopbackHost(a) || a === '127.0.0.1')
}

function shorten(text: string): string {
  const printable = text.replace(/[^\x20-\x7e]/g, '?')
  return printable.length > MAX_HEADER_SHOWN ? `${printable.slice(0, MAX_HEADER_SHOWN)}…` : printable
}
