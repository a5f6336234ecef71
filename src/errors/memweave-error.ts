/**
 * The one error class of memweave. It carries an origin (layer) and a kind
 * from the fixed tables in error-kinds.ts, a human message with context
 * (paths, addresses, names; never memory bytes or tokens) and its cause.
 */
import { ERROR_KINDS, ERROR_ORIGINS, kindFromCode, originFromCode } from './error-kinds.js'
import type { ErrorKind, ErrorOrigin } from './error-kinds.js'
import { boundMessage } from './quote.js'
import { errnoCode } from './guards.js'

/** Characters of a wrapped error's own message kept after the context. */
const DETAIL_MAX_CHARS = 300

export class MemweaveError extends Error {
  readonly origin: ErrorOrigin
  readonly kind: ErrorKind

  constructor(origin: ErrorOrigin, kind: ErrorKind, message: string, options?: { cause?: unknown }) {
    super(boundMessage(message), options)
    this.name = 'MemweaveError'
    this.origin = origin
    this.kind = kind
  }

  /** Packs origin and kind into one integer for the wire (origin * 1000 + kind). */
  get code(): number {
    return ERROR_ORIGINS[this.origin] * 1000 + ERROR_KINDS[this.kind]
  }

  static fromCode(code: number, message: string): MemweaveError {
    return new MemweaveError(originFromCode(Math.floor(code / 1000)), kindFromCode(code % 1000), message)
  }

  is(kind: ErrorKind): boolean {
    return this.kind === kind
  }
}

/** Wraps anything thrown into a MemweaveError, keeping MemweaveErrors as they are. */
export function toMemweaveError(err: unknown, origin: ErrorOrigin, context: string): MemweaveError {
  if (err instanceof MemweaveError) return err
  const nodeCode = errnoCode(err)
  // A system error repeats the path it failed on: keep its start, which names the failure.
  const detail = boundMessage(err instanceof Error ? err.message : String(err), DETAIL_MAX_CHARS)
  const kind = kindFromSystemCode(nodeCode)
  return new MemweaveError(origin, kind, `${context}: ${detail}`, { cause: err })
}

function kindFromSystemCode(code: string): ErrorKind {
  switch (code) {
    case 'ENOENT': return 'not_found'
    case 'EACCES': case 'EPERM': return 'permission'
    case 'EEXIST': return 'already_exists'
    case 'EBUSY': return 'busy'
    case 'EINVAL': return 'invalid_argument'
    case 'ESRCH': return 'stale'
    case 'ECONNREFUSED': case 'ECONNRESET': case 'EPIPE': return 'disconnected'
    case 'ETIMEDOUT': return 'timeout'
    case '': return 'internal'
    default: return 'io'
  }
}

/** Error → POSIX errno name, for frontends that speak errno (FUSE, exit codes). */
export function errnoFor(err: MemweaveError): string {
  switch (err.kind) {
    case 'not_found': return 'ENOENT'
    case 'permission': case 'unauthorized': return 'EACCES'
    case 'already_exists': return 'EEXIST'
    case 'busy': return 'EBUSY'
    case 'invalid_argument': case 'malformed': return 'EINVAL'
    case 'stale': return 'ESTALE'
    case 'unmapped': case 'io': return 'EIO'
    case 'out_of_bounds': return 'ENXIO'
    case 'unsupported': return 'ENOSYS'
    case 'too_large': case 'limit': return 'E2BIG'
    case 'timeout': return 'ETIMEDOUT'
    case 'not_a_branch': return 'ENOTDIR'
    case 'not_a_leaf': return 'EISDIR'
    case 'disconnected': return 'ENOTCONN'
    default: return 'EIO'
  }
}
