/**
 * How the CLI fails: exit codes, the usage and no-daemon errors, and the one
 * line printed on stderr for any error (stack traces only with --debug).
 */
import { MemweaveError } from '../../errors/index.js'

export const EXIT_OK = 0
/** The operation failed (the daemon or the tree refused, an I/O error). */
export const EXIT_FAILED = 1
/** The command line was wrong. */
export const EXIT_USAGE = 2
/** No daemon answered at the chosen address. */
export const EXIT_NO_DAEMON = 3

/** A wrong command line: exits 2. */
export function usageError(message: string): MemweaveError {
  return new MemweaveError('cli', 'invalid_argument', message)
}

/** Thrown when nothing answers at the daemon address; its message says how to get a daemon. */
export class NoDaemonError extends MemweaveError {
  constructor(readonly url: string, cause: unknown) {
    super('cli', 'disconnected',
      `no daemon answers at ${url} (${absenceReason(cause)}); start one with 'memweave serve', `
      + 'point --daemon (or MEMWEAVE_DAEMON) at a running one, or add --embedded to run this command in-process',
      { cause })
    this.name = 'NoDaemonError'
  }
}

/** A few words on why nobody answered, from the system error code in the cause chain. */
function absenceReason(err: unknown): string {
  const code = systemCode(err)
  switch (code) {
    case 'ENOENT': return 'no socket file'
    case 'ECONNREFUSED': return 'connection refused'
    case 'ETIMEDOUT': return 'timed out'
    case 'EHOSTUNREACH': return 'host unreachable'
    case undefined: break
    default: return code
  }
  if (err instanceof MemweaveError && err.kind === 'timeout') return 'timed out'
  return err instanceof Error ? (err.message.split(/[;\n]/)[0] ?? err.message) : String(err)
}

function systemCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; typeof e === 'object' && e !== null && depth < 8; depth++) {
    if ('code' in e && typeof e.code === 'string') return e.code
    e = e instanceof Error ? e.cause : undefined
  }
  return undefined
}

/** Kinds of connect failure that mean "nobody is listening there", as opposed to "they said no". */
const ABSENT_KINDS = new Set(['disconnected', 'not_found', 'timeout', 'io'])
const ABSENT_CODES = new Set(['ECONNREFUSED', 'ENOENT', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTSOCK', 'EPIPE'])

/** Whether a connect error means no daemon is there (rather than a refusal such as a bad token). */
export function isAbsentDaemon(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 8; depth++) {
    if (e instanceof MemweaveError) {
      if (ABSENT_KINDS.has(e.kind)) return true
      if (e.kind === 'unauthorized' || e.kind === 'version_mismatch' || e.kind === 'permission' || e.kind === 'protocol') return false
    }
    const code = typeof e === 'object' && 'code' in e ? String(e.code) : ''
    if (ABSENT_CODES.has(code)) return true
    e = e instanceof Error ? e.cause : undefined
  }
  return false
}

export function exitCodeFor(err: unknown): number {
  if (err instanceof NoDaemonError) return EXIT_NO_DAEMON
  if (err instanceof MemweaveError && err.origin === 'cli' && err.kind === 'invalid_argument') return EXIT_USAGE
  return EXIT_FAILED
}

/** The single stderr line for an error; with debug, the stack and causes follow. */
export function describeError(err: unknown, debug: boolean): string {
  const message = err instanceof MemweaveError
    ? err.message
    : err instanceof Error ? `internal error: ${err.message}` : `internal error: ${String(err)}`
  const line = `memweave: ${firstLine(message)}`
  if (!debug) {
    // An unexpected (non-MemweaveError) failure is a bug; say how to see where it happened.
    return err instanceof MemweaveError ? line : `${line} (run with --debug for the stack)`
  }
  const details: string[] = [line]
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const code = e instanceof MemweaveError ? ` [${e.origin}/${e.kind}]` : ''
    details.push(depth === 0 ? `${e.stack ?? e.message}${code}` : `caused by: ${e.stack ?? e.message}${code}`)
  }
  return details.join('\n')
}

function firstLine(text: string): string {
  const newline = text.indexOf('\n')
  return newline < 0 ? text : text.slice(0, newline)
}
