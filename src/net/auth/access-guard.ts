/**
 * What one connection's identity may do, checked around each request:
 *
 *   admin  everything (writes still need the daemon's --allow-write)
 *   read   list, stat, open, read, watch and RPCs on non-control leaves;
 *          no writes, no control leaves (connector/new, os/rm, sys/peers/add,
 *          sys/plugins/load, …), no tickets for others beyond its own rights
 *
 * Path patterns (`os/g/**`, `os/*` matches one name) limit what exists for
 * the identity: a path is visible when it lies under a pattern, or is an
 * ancestor of one (listed with only the children that lead there). Anything
 * else answers "no such path", the same as a path that does not exist —
 * through peers (`b/…`) and FUSE mounts alike, since both are paths here.
 */
import { MemweaveError } from '../../errors/index.js'
import type { Entry, OpenResult } from '../../tree/index.js'
import { splitPath } from '../../tree/index.js'
import type { Identity } from './credentials.js'

export class AccessGuard {
  private readonly patterns: readonly string[][] | undefined

  constructor(readonly identity: Identity) {
    this.patterns = identity.paths?.map((p) => splitPath(p).filter((part, i, all) => !(part === '**' && i === all.length - 1)))
  }

  /** Refuses what the identity may not ask at all; run before the request. */
  check(op: string, path?: string): void {
    if (this.identity.role === 'read' && op === 'write') throw this.denied('write')
    if (path !== undefined && !this.visible(path)) throw notFound(path)
  }

  visible(path: string): boolean {
    if (this.patterns === undefined) return true
    const parts = splitPath(path)
    return this.patterns.some((pattern) => matchesPrefix(parts, pattern) || matchesPrefix(pattern, parts))
  }

  /** A listing with only the entries this identity may see. */
  filterList(path: string, entries: Entry[]): Entry[] {
    if (this.patterns === undefined) return entries
    const base = splitPath(path)
    return entries.filter((entry) => this.visible([...base, entry.name].join('/')))
  }

  /** After an open: a read identity may not hold a control leaf (closed again at once). */
  async checkOpened(path: string, opened: OpenResult, close: (handle: number) => Promise<void>): Promise<OpenResult> {
    if (this.identity.role === 'read' && opened.meta.content === 'control') {
      await close(opened.handle)
      throw this.denied(`use the control leaf '${path}'`)
    }
    return opened
  }

  private denied(what: string): MemweaveError {
    return new MemweaveError('net', 'permission', `token '${this.identity.name}' has the read role: it may not ${what} (an admin token may)`)
  }
}

function notFound(path: string): MemweaveError {
  return new MemweaveError('tree', 'not_found', `no such path: '${path}'`)
}

/** True when `pattern` (with '*' for one name) is a prefix of `parts`, or equal. */
function matchesPrefix(parts: readonly string[], pattern: readonly string[]): boolean {
  if (pattern.length > parts.length) return false
  return pattern.every((p, i) => p === '*' || parts[i] === '*' || p === parts[i])
}
