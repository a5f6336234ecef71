/**
 * MemweaveError → errno for FUSE replies: the error's kind picks the POSIX
 * name (errnoFor: stale → ESTALE, not_found → ENOENT, invalid_argument →
 * EINVAL, disconnected → ENOTCONN …) and the host's errno table its number
 * (negative, as FUSE callbacks take it).
 */
import { constants } from 'node:os'
import { MemweaveError, errnoFor, toMemweaveError } from '../../errors/index.js'

const ERRNO: Readonly<Record<string, number | undefined>> = constants.errno

/** The (negative) errno for a POSIX name such as 'ENOENT'; EIO for a name this host does not know. */
export function fuseErrno(name: string): number {
  return -(ERRNO[name] ?? constants.errno.EIO)
}

export interface FuseFailure {
  readonly errno: number
  readonly name: string
  readonly error: MemweaveError
}

export function fuseFailure(err: unknown, context: string): FuseFailure {
  const error = toMemweaveError(err, 'fuse', context)
  const name = errnoFor(error)
  return { errno: fuseErrno(name), name, error }
}

/** A failure we decide here (EBADF, EROFS …) rather than one the tree reported. */
export function localFailure(name: string, kind: MemweaveError['kind'], message: string): FuseFailure {
  return { errno: fuseErrno(name), name, error: new MemweaveError('fuse', kind, message) }
}

/** Expected on every shell prompt (ls probes, tab completion): not worth more than a debug line. */
export function isRoutine(failure: FuseFailure): boolean {
  return failure.name === 'ENOENT' || failure.name === 'ENOTDIR'
}
