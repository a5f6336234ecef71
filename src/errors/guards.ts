/**
 * The tiny guards every layer needs for values it did not make (decoded
 * JSON or msgpack, a caught `unknown`), in one place with the strictest
 * behaviour any copy had: a record is a plain keyed object — not null, not
 * an array, not bytes (msgpack decodes binary as Uint8Array).
 */

/** A keyed object from outside: not null, not an array, not a typed array or DataView. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !ArrayBuffer.isView(value)
}

/** The `code` of a Node system error ('ENOENT', 'EACCES', …), or '' for anything else. */
export function errnoCode(err: unknown): string {
  return typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : ''
}
