/**
 * Who a hello is: the unix socket's owner (no token: the socket file's mode
 * is the access control there), or the holder of a known token. Tokens are
 * compared as SHA-256 digests in constant time; each has a name (for the
 * audit log — the token itself is never logged), a role and optional path
 * prefixes. The auto token and a token given with --token-file are `admin`;
 * named tokens come from the token store (token-store.ts), re-read when it
 * changes so `token rm` takes effect for new connections at once.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { MemweaveError } from '../../errors/index.js'

export const ROLES = ['admin', 'read'] as const
export type Role = typeof ROLES[number]

export type Transport = 'unix' | 'tcp'

export interface Identity {
  /** 'unix-owner', 'auto', 'configured' or a named token's name. */
  readonly name: string
  readonly role: Role
  /** Path patterns ('os/g/**') this identity may see; undefined: everything. */
  readonly paths: readonly string[] | undefined
}

export interface Credential {
  readonly name: string
  readonly role: Role
  readonly paths?: readonly string[]
  /** SHA-256 of the token. */
  readonly digest: Buffer
}

export const UNIX_OWNER: Identity = { name: 'unix-owner', role: 'admin', paths: undefined }

export function tokenDigest(token: string): Buffer {
  return createHash('sha256').update(token).digest()
}

export function adminCredential(name: string, token: string): Credential {
  return { name, role: 'admin', digest: tokenDigest(token) }
}

export interface AuthenticatorOptions {
  /** Tokens the daemon was given or made (admin). */
  readonly fixed: readonly Credential[]
  /** Named tokens, read again on each hello (cheap when unchanged). */
  readonly store?: () => readonly Credential[]
  /** Where a TCP client at this port finds the token, named in the refusal ('/run/memweave/tcp-7001.token'). */
  readonly tokenHint?: (port: number | undefined) => string | undefined
}

export class Authenticator {
  constructor(private readonly options: AuthenticatorOptions) {}

  /** True when at least one token can be presented (TCP listeners need one). */
  get hasTokens(): boolean {
    return this.options.fixed.length > 0 || this.options.store !== undefined
  }

  /** The identity a hello proves, or an 'unauthorized' error naming where the token lives. */
  identify(token: string | undefined, transport: Transport, port?: number): Identity {
    if (token === undefined) {
      if (transport === 'unix') return UNIX_OWNER
      throw new MemweaveError('net', 'unauthorized', `this daemon requires a token: ${this.hint(port)}`)
    }
    const given = tokenDigest(token)
    const known = [...this.options.fixed, ...(this.options.store?.() ?? [])]
    // Every candidate is compared (no early exit), so timing does not tell which one matched.
    let match: Credential | undefined
    for (const credential of known) {
      if (timingSafeEqual(given, credential.digest) && match === undefined) match = credential
    }
    if (match === undefined) throw new MemweaveError('net', 'unauthorized', `the token is not valid for this daemon: ${this.hint(port)}`)
    return { name: match.name, role: match.role, paths: match.paths }
  }

  private hint(port: number | undefined): string {
    const where = this.options.tokenHint?.(port)
    const file = where === undefined ? 'ask the daemon\'s owner for one' : `the daemon's owner finds it in ${where}`
    return `${file}; pass it with --token-file FILE or MEMWEAVE_TOKEN`
  }
}

/** What a browser ticket carries: the rights of the connection that asked for it. */
export function identityRights(identity: Identity): Readonly<Record<string, unknown>> {
  return { name: identity.name, role: identity.role, paths: identity.paths }
}

/** The identity a redeemed ticket grants (its session is named after the connection that asked). */
export function identityFromRights(rights: Readonly<Record<string, unknown>>): Identity {
  const role = ROLES.find((r) => r === rights.role)
  const paths = Array.isArray(rights.paths) ? rights.paths.filter((p): p is string => typeof p === 'string') : undefined
  if (role === undefined || typeof rights.name !== 'string') throw new MemweaveError('net', 'unauthorized', 'the ticket carries no rights')
  return { name: `ticket:${rights.name}`, role, paths }
}
