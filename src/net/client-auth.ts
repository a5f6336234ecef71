/**
 * Where a client finds its daemon and the token to present, the same for
 * every client (CLI, library `connect()`, mount; the Python client follows
 * the same rules, see docs/protocol.md):
 *
 *   address: given ─▶ $MEMWEAVE_DAEMON ─▶ unix:<default socket>     (a bare path is a unix socket)
 *   token:   given ─▶ token file given ─▶ $MEMWEAVE_TOKEN
 *
 * With none of those, connectClient looks for a loopback daemon's own token
 * file itself (the access-control design); a unix socket needs no token.
 */
import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { MemweaveError, toMemweaveError } from '../errors/index.js'
import { defaultSocketPath } from './listen-address.js'

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
