/**
 * Paths are '/'-separated names from the tree's root. Empty segments and a
 * leading or trailing '/' are ignored; '.' and '..' are refused rather than
 * interpreted, so a path always names exactly what it says.
 */
import { MemweaveError, quote } from '../errors/index.js'

export const MAX_PATH_BYTES = 4096

export function splitPath(path: string): string[] {
  if (typeof path !== 'string') throw new MemweaveError('tree', 'invalid_argument', 'path must be a string')
  if (path.length > MAX_PATH_BYTES) throw new MemweaveError('tree', 'too_large', `path longer than ${MAX_PATH_BYTES} characters`)
  if (path.includes('\0')) throw new MemweaveError('tree', 'invalid_argument', `path ${quote(path.replaceAll('\0', '\\0'))} contains a NUL byte`)
  const parts = path.split('/').filter((p) => p.length > 0)
  for (const part of parts) {
    if (part === '.' || part === '..') throw new MemweaveError('tree', 'invalid_argument', `path ${quote(path)}: '.' and '..' are not allowed`)
  }
  return parts
}

export function joinPath(parts: readonly string[]): string {
  return parts.join('/')
}

export function normalizePath(path: string): string {
  return joinPath(splitPath(path))
}
