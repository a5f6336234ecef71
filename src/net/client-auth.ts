/**
 * Where a client finds its daemon and the token to present, the same for
 * every client (CLI, library `connect()`, mount, peers; the Python client
 * follows the same rules, see docs/protocol.md):
 *
 *   address: given ─▶ $MEMWEAVE_DAEMON ─▶ unix:<default socket>     (a bare path is a unix socket)
 *   token:   given ─▶ token file given ─▶ $MEMWEAVE_TOKEN
 *            ─▶ for ws://<loopback>:PORT only: <state dir>/tcp-PORT.token, if it is ours
 *
 * The auto-token file is what a daemon writes when it listens on TCP with
 * no token configured (mode 0600, removed at exit). The state directory is
 * $MEMWEAVE_STATE_DIR, else /run/memweave for root, else
 * $XDG_RUNTIME_DIR/memweave, else /tmp/memweave-UID. A unix socket needs no
 * token (the socket file is owner-only).
 */
import { constants } from 'node:fs'
import { open, readFile } from 'node:fs/promises'
import { isAbsolute, join, resolve } from 'node:path'
import { MemweaveError, toMemweaveError } from '../errors/index.js'
import { defaultSocketPath, isLoopbackHost, parseEndpoint } from './listen-address.js'

/** Longest token file read; tokens are short (64 hex digits for generated ones). */
const MAX_TOKEN_FILE_BYTES = 64 * 1024

/** Normalizes a daemon address: `unix:PATH`, a bare (absolute or ./relative) path, `ws://HOST:PORT`, `wss://HOST:PORT`. */
export function normalizeDaemonUrl(given: string, what = 'daemon address'): string {
  if (given.startsWith('/') || given.startsWith('./') || given.startsWith('../')) return `unix:${resolve(given)}`
  if (/^unix:./.test(given)) return `unix:${resolve(given.slice('unix:'.length))}`
  if (/^wss?:\/\/[^/]+/.test(given)) return given
  throw new MemweaveError('config', 'invalid_argument', `${what} '${given}' is not unix:/PATH, ws://HOST:PORT or wss://HOST:PORT`)
}

/** The daemon a client talks to when told nothing: $MEMWEAVE_DAEMON, else the default unix socket. */
export function defaultDaemonUrl(env: NodeJS.ProcessEnv = process.env): string {
  const given = env.MEMWEAVE_DAEMON
  if (given === undefined || given === '') return `unix:${defaultSocketPath(env)}`
  return normalizeDaemonUrl(given, 'MEMWEAVE_DAEMON')
}

/** The per-run state directory (auto-token files): see the module comment. */
export function runtimeStateDir(env: NodeJS.ProcessEnv = process.env, uid: number = process.getuid?.() ?? -1): string {
  const configured = env.MEMWEAVE_STATE_DIR
  if (configured !== undefined && configured !== '') return resolve(configured)
  if (uid === 0) return '/run/memweave'
  const runtimeDir = env.XDG_RUNTIME_DIR
  if (runtimeDir !== undefined && isAbsolute(runtimeDir)) return join(runtimeDir, 'memweave')
  return `/tmp/memweave-${uid}`
}

/** The auto-token file a daemon listening on TCP port `port` writes when it has no configured token. */
export function autoTokenPath(port: number, env: NodeJS.ProcessEnv = process.env): string {
  return join(runtimeStateDir(env), `tcp-${port}.token`)
}

export async function readTokenFile(file: string): Promise<string> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw toMemweaveError(err, 'config', `cannot read token file ${file}`)
  }
  const token = text.trim()
  if (token.length === 0) throw new MemweaveError('config', 'invalid_argument', `token file ${file} is empty`)
  return token
}

/** The explicit token: `token`, else `tokenFile`, else $MEMWEAVE_TOKEN (a daemon uses this for the token it requires). */
export async function resolveToken(token: string | undefined, tokenFile: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  if (token !== undefined) return token
  if (tokenFile !== undefined) return readTokenFile(tokenFile)
  const fromEnv = env.MEMWEAVE_TOKEN
  return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv
}

export interface TokenSources {
  readonly token?: string | undefined
  readonly tokenFile?: string | undefined
  readonly env?: NodeJS.ProcessEnv
}

/** The token a client presents to `url`: the explicit one, else the daemon's auto-token file for a loopback TCP address. */
export async function clientToken(url: string, sources: TokenSources = {}): Promise<string | undefined> {
  const env = sources.env ?? process.env
  const explicit = await resolveToken(sources.token, sources.tokenFile, env)
  if (explicit !== undefined) return explicit
  const endpoint = parseEndpoint(url)
  if (endpoint.kind !== 'tcp' || !isLoopbackHost(endpoint.host)) return undefined
  return readOwnTokenFile(autoTokenPath(endpoint.port, env))
}

/**
 * Reads a token file only if it is a regular file owned by this user (not a
 * symlink): a file someone else planted must not choose our token. Absent
 * or foreign: undefined.
 */
async function readOwnTokenFile(path: string): Promise<string | undefined> {
  let handle
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch (err) {
    const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : ''
    if (code === 'ENOENT' || code === 'ELOOP' || code === 'EACCES' || code === 'ENOTDIR') return undefined
    throw toMemweaveError(err, 'config', `cannot read the daemon's token file ${path}`)
  }
  try {
    const info = await handle.stat()
    if (!info.isFile() || info.uid !== (process.getuid?.() ?? info.uid) || info.size > MAX_TOKEN_FILE_BYTES) return undefined
    const token = (await handle.readFile('utf8')).trim()
    return token === '' ? undefined : token
  } finally {
    await handle.close()
  }
}
