/**
 * How a peer is described: `--connect NAME=URL[,key=value…]` on serve, a
 * line `NAME URL [key=value…]` written to sys/peers/add, or an RPC object
 * on that leaf (the only form that may carry a token itself; lines name a
 * token file, so tokens stay out of `ps` and out of the leaf's history).
 *
 *   keys: token-file=F  fingerprint=SHA256  ca=F  backoff-min-ms=N  backoff-max-ms=N  ping-ms=N  timeout-ms=N
 */
import { MemweaveError } from '../../errors/index.js'
import { formatEndpoint, parseEndpoint } from '../../net/index.js'
import { normalizeFingerprint } from '../../net/index.js'

export interface PeerTuning {
  /** First wait before reconnecting; doubles per failure up to backoffMaxMs. */
  readonly backoffMinMs: number
  readonly backoffMaxMs: number
  /** How often a live peer is pinged (latency, and a peer that stopped answering is cut off). */
  readonly pingIntervalMs: number
  /** Longest wait for any one request (an OS being opened on the peer included). */
  readonly requestTimeoutMs: number
  readonly connectTimeoutMs: number
  /** Requests to this peer in flight or queued; more are refused with 'limit'. */
  readonly maxInFlight: number
  /** Bytes of reads to this peer in flight; more are refused with 'limit' (one read may always go). */
  readonly maxInFlightBytes: number
  /** Largest message accepted from this peer. */
  readonly maxMessageBytes: number
}

export const DEFAULT_PEER_TUNING: PeerTuning = {
  backoffMinMs: 250,
  backoffMaxMs: 30_000,
  pingIntervalMs: 10_000,
  requestTimeoutMs: 120_000,
  connectTimeoutMs: 10_000,
  maxInFlight: 4096,
  maxInFlightBytes: 512 * 1024 * 1024,
  maxMessageBytes: 300 * 1024 * 1024,
}

export interface PeerSpec {
  readonly name: string
  /** Normalized: unix:/path, ws://HOST:PORT or wss://HOST:PORT. */
  readonly url: string
  readonly token?: string
  readonly tokenFile?: string
  /** Pinned SHA-256 fingerprint of the peer's certificate ('AB:CD:…'). */
  readonly fingerprint?: string
  readonly caFile?: string
  /** The CA certificate's content, read once when the peer was added (caFile is kept for display). */
  readonly ca?: Buffer
  readonly tuning: Partial<PeerTuning>
}

const TUNING_KEYS: Readonly<Record<string, keyof PeerTuning>> = {
  'backoff-min-ms': 'backoffMinMs',
  'backoff-max-ms': 'backoffMaxMs',
  'ping-ms': 'pingIntervalMs',
  'timeout-ms': 'requestTimeoutMs',
}
const KNOWN_KEYS = ['token-file', 'fingerprint', 'ca', ...Object.keys(TUNING_KEYS)]

function invalid(message: string): MemweaveError {
  return new MemweaveError('config', 'invalid_argument', message)
}

function buildSpec(name: string, url: string, options: ReadonlyMap<string, string>, where: string): PeerSpec {
  if (options.has('token')) throw invalid(`${where}: a token does not go on the line (it would show in ps and logs); use token-file=FILE`)
  const unknown = [...options.keys()].filter((key) => !KNOWN_KEYS.includes(key))
  if (unknown.length > 0) throw invalid(`${where}: unknown option '${unknown[0] ?? ''}' (known: ${KNOWN_KEYS.join(', ')})`)
  const tuning: Partial<Record<keyof PeerTuning, number>> = {}
  for (const [key, field] of Object.entries(TUNING_KEYS)) {
    const value = options.get(key)
    if (value === undefined) continue
    const n = Number(value)
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n <= 0) throw invalid(`${where}: ${key} must be a positive number of milliseconds, not '${value}'`)
    tuning[field] = n
  }
  const fingerprint = options.get('fingerprint')
  return {
    name,
    url: formatEndpoint(parseEndpoint(url)),
    tokenFile: options.get('token-file'),
    fingerprint: fingerprint === undefined ? undefined : normalizeFingerprint(fingerprint),
    caFile: options.get('ca'),
    tuning,
  }
}

function keyValues(parts: readonly string[], where: string): Map<string, string> {
  const options = new Map<string, string>()
  for (const part of parts) {
    const eq = part.indexOf('=')
    if (eq <= 0) throw invalid(`${where}: '${part}' is not key=value`)
    options.set(part.slice(0, eq), part.slice(eq + 1))
  }
  return options
}

/** `NAME=URL[,key=value…]` (serve --connect). */
export function parseConnectOption(text: string): PeerSpec {
  const where = `--connect '${text}'`
  const [first = '', ...rest] = text.split(',')
  const eq = first.indexOf('=')
  if (eq <= 0) throw invalid(`${where}: expected NAME=URL[,token-file=F][,fingerprint=SHA256][,ca=F]`)
  return buildSpec(first.slice(0, eq), first.slice(eq + 1), keyValues(rest, where), where)
}

/** `NAME URL [key=value…]` (a line written to sys/peers/add). */
export function parsePeerLine(line: string): PeerSpec {
  const [name, url, ...rest] = line.trim().split(/\s+/)
  if (name === undefined || name === '' || url === undefined) throw invalid(`expected 'NAME URL [token-file=F] [fingerprint=SHA256] [ca=F]', got '${line.trim()}'`)
  return buildSpec(name, url, keyValues(rest, `peer '${name}'`), `peer '${name}'`)
}

function optionalString(record: Readonly<Record<string, unknown>>, key: string): string | undefined {
  const value = record[key]
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'string' || value.length > 8192) throw invalid(`peer add: '${key}' must be a string`)
  return value
}

/** `{name, url, token?, tokenFile?, fingerprint?, caFile?}` (an RPC on sys/peers/add; the CLI's form). */
export function peerSpecFromRpc(value: unknown): PeerSpec {
  if (typeof value === 'string') return parsePeerLine(value)
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('peer add takes a line or {name, url, token?, tokenFile?, fingerprint?, caFile?}')
  const record: Readonly<Record<string, unknown>> = Object.fromEntries(Object.entries(value))
  const name = optionalString(record, 'name')
  const url = optionalString(record, 'url')
  if (name === undefined || url === undefined) throw invalid('peer add needs a name and a url')
  const options = new Map<string, string>()
  const put = (key: string, field: string): void => { const v = optionalString(record, field); if (v !== undefined) options.set(key, v) }
  put('token-file', 'tokenFile')
  put('fingerprint', 'fingerprint')
  put('ca', 'caFile')
  const spec = buildSpec(name, url, options, `peer '${name}'`)
  const token = optionalString(record, 'token')
  return token === undefined ? spec : { ...spec, token }
}
