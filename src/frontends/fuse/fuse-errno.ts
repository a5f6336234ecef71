/**
 * MemweaveError → errno for FUSE replies: the error's kind picks the POSIX
 * name (errnoFor: stale → ESTALE, not_found → ENOENT, invalid_argument →
 * EINVAL, disconnected → ENOTCONN …) and fuse-native gives its number.
 */
import { MemweaveError, errnoFor, toMemweaveError } from '../../errors/index.js'
import { fuseErrno } from './fuse-binding.js'

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
