/**
 * Named tokens, stored hashed: `<state dir>/tokens.json` (the persistent
 * state directory: $MEMWEAVE_STATE_DIR, /var/lib/memweave for root, else
 * $XDG_STATE_HOME/memweave), mode 0600 in a 0700 directory. Each entry keeps
 * the token's name, role, path patterns and SHA-256 — never the token, which
 * `memweave token add` prints once. The daemon re-reads the file when it
 * changes, so a removed token stops working for new connections at once.
 */
import { randomBytes } from 'node:crypto'
import { constants, closeSync, fstatSync, openSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { MemweaveError, errnoCode } from '../../errors/index.js'
import { ROLES, tokenDigest } from './credentials.js'
import type { Credential, Role } from './credentials.js'

const MAX_STORE_BYTES = 1024 * 1024
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/
/** Names the daemon gives its own tokens. */
const RESERVED = new Set(['auto', 'configured', 'unix-owner'])

interface StoredToken {
  readonly name: string
  readonly role: Role
  readonly paths?: readonly string[]
  readonly sha256: string
  readonly created: string
}

export interface TokenSummary {
  readonly name: string
  readonly role: Role
  readonly paths: readonly string[] | undefined
  readonly created: string
}

export class TokenStore {
  private cached: { key: string; credentials: Credential[] } | undefined

  constructor(readonly file: string) {}

  static inDirectory(dir: string): TokenStore {
    return new TokenStore(join(dir, 'tokens.json'))
  }

  /** The credentials, re-read only when the file changed (cheap on every hello); none when there is no file. */
  credentials(): readonly Credential[] {
    let key: string
    try {
      const info = statSync(this.file)
      key = `${info.ino}:${info.size}:${info.mtimeMs}`
    } catch {
      return []
    }
    if (this.cached?.key !== key) {
      this.cached = { key, credentials: this.read().map((t) => ({ name: t.name, role: t.role, paths: t.paths, digest: Buffer.from(t.sha256, 'hex') })) }
    }
    return this.cached.credentials
  }

  list(): TokenSummary[] {
    return this.read().map((t) => ({ name: t.name, role: t.role, paths: t.paths, created: t.created }))
  }

  /** Adds a token and returns it (the only time it is ever shown). */
  add(name: string, role: string, paths: readonly string[] = []): string {
    if (!NAME.test(name) || RESERVED.has(name)) throw new MemweaveError('config', 'invalid_argument', `token name '${name.slice(0, 80)}' must be 1-64 letters, digits, '.', '_' or '-' (and not auto, configured or unix-owner)`)
    const known = ROLES.find((r) => r === role)
    if (known === undefined) throw new MemweaveError('config', 'invalid_argument', `role '${role.slice(0, 40)}' is not one of ${ROLES.join(', ')}`)
    for (const path of paths) {
      if (path.length === 0 || path.length > 1024 || path.split('/').some((p) => p === '.' || p === '..')) throw new MemweaveError('config', 'invalid_argument', `path pattern '${path.slice(0, 80)}' is not a tree path like os/g/**`)
    }
    const tokens = this.read()
    if (tokens.some((t) => t.name === name)) throw new MemweaveError('config', 'already_exists', `a token named '${name}' exists (token rm ${name} first)`)
    const token = randomBytes(32).toString('hex')
    tokens.push({ name, role: known, ...(paths.length === 0 ? {} : { paths: [...paths] }), sha256: tokenDigest(token).toString('hex'), created: new Date().toISOString() })
    this.write(tokens)
    return token
  }

  remove(name: string): void {
    const tokens = this.read()
    const left = tokens.filter((t) => t.name !== name)
    if (left.length === tokens.length) throw new MemweaveError('config', 'not_found', `no token named '${name}' (see token ls)`)
    this.write(left)
  }

  private read(): StoredToken[] {
    let text: string
    try {
      const fd = openSync(this.file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
      try {
        const info = fstatSync(fd)
        if (!info.isFile() || info.size > MAX_STORE_BYTES) throw new MemweaveError('config', 'invalid_argument', `${this.file} is not a token store (not a regular file, or too big)`)
        if ((info.mode & 0o077) !== 0) throw new MemweaveError('config', 'permission', `${this.file} is open to other users (mode ${(info.mode & 0o777).toString(8)}); chmod 600 it`)
        text = readFileSync(fd, 'utf8')
      } finally {
        closeSync(fd)
      }
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return []
      throw err instanceof MemweaveError ? err : new MemweaveError('config', 'io', `cannot read the token store ${this.file}`, { cause: err })
    }
    let doc: unknown
    try {
      doc = JSON.parse(text)
    } catch (err) {
      throw new MemweaveError('config', 'malformed', `${this.file} is not valid JSON`, { cause: err })
    }
    const list = typeof doc === 'object' && doc !== null && 'tokens' in doc && Array.isArray(doc.tokens) ? doc.tokens as unknown[] : undefined
    if (list === undefined) throw new MemweaveError('config', 'malformed', `${this.file} holds no "tokens" list`)
    return list.map((entry, i) => checkEntry(entry, `${this.file}: tokens[${i}]`))
  }

  private write(tokens: readonly StoredToken[]): void {
    const temp = `${this.file}.${process.pid}.tmp`
    writeFileSync(temp, `${JSON.stringify({ tokens }, null, 2)}\n`, { mode: 0o600, flag: 'wx' })
    renameSync(temp, this.file)
  }
}

function checkEntry(entry: unknown, where: string): StoredToken {
  const record = typeof entry === 'object' && entry !== null ? entry as Record<string, unknown> : {}
  const role = ROLES.find((r) => r === record.role)
  const paths = record.paths === undefined ? undefined : Array.isArray(record.paths) && record.paths.every((p) => typeof p === 'string') ? record.paths as string[] : null
  if (typeof record.name !== 'string' || role === undefined || typeof record.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(record.sha256) || paths === null) {
    throw new MemweaveError('config', 'malformed', `${where} needs name, role (${ROLES.join('|')}), sha256 and optional paths`)
  }
  return { name: record.name, role, ...(paths === undefined ? {} : { paths }), sha256: record.sha256, created: typeof record.created === 'string' ? record.created : '' }
}
