/**
 * The two small vocabularies every memweave error is made of: where it came
 * from (origin) and what went wrong (kind). Both tables are append-only: the
 * numbers travel on the wire, so an existing number never changes meaning.
 */

export const ERROR_ORIGINS = {
  tree: 1,
  mem: 2,
  arch: 3,
  connector: 4,
  os: 5,
  net: 6,
  cli: 7,
  fuse: 8,
  plugin: 9,
  config: 10,
  node: 11,
} as const

export const ERROR_KINDS = {
  internal: 1,
  not_found: 2,
  invalid_argument: 3,
  already_exists: 4,
  busy: 5,
  stale: 6,
  io: 7,
  unmapped: 8,
  out_of_bounds: 9,
  unsupported: 10,
  permission: 11,
  malformed: 12,
  too_large: 13,
  protocol: 14,
  timeout: 15,
  disconnected: 16,
  unauthorized: 17,
  version_mismatch: 18,
  cancelled: 19,
  not_a_branch: 20,
  not_a_leaf: 21,
  limit: 22,
} as const

export type ErrorOrigin = keyof typeof ERROR_ORIGINS
export type ErrorKind = keyof typeof ERROR_KINDS

/** Fixed short text per kind, used when a message is missing on the wire. */
export const ERROR_KIND_TEXT: Readonly<Record<ErrorKind, string>> = {
  internal: 'internal error',
  not_found: 'not found',
  invalid_argument: 'invalid argument',
  already_exists: 'already exists',
  busy: 'in use',
  stale: 'stale handle',
  io: 'i/o error',
  unmapped: 'address not mapped',
  out_of_bounds: 'out of bounds',
  unsupported: 'not supported',
  permission: 'permission denied',
  malformed: 'malformed data',
  too_large: 'too large',
  protocol: 'protocol error',
  timeout: 'timed out',
  disconnected: 'disconnected',
  unauthorized: 'unauthorized',
  version_mismatch: 'version mismatch',
  cancelled: 'cancelled',
  not_a_branch: 'not a branch',
  not_a_leaf: 'not a leaf',
  limit: 'limit reached',
}

const originByCode = new Map<number, ErrorOrigin>(
  Object.entries(ERROR_ORIGINS).map(([name, code]) => [code, name as ErrorOrigin]),
)
const kindByCode = new Map<number, ErrorKind>(
  Object.entries(ERROR_KINDS).map(([name, code]) => [code, name as ErrorKind]),
)

export function originFromCode(code: number): ErrorOrigin {
  return originByCode.get(code) ?? 'node'
}

export function kindFromCode(code: number): ErrorKind {
  return kindByCode.get(code) ?? 'internal'
}

export function isErrorKind(value: unknown): value is ErrorKind {
  return typeof value === 'string' && Object.hasOwn(ERROR_KINDS, value)
}
