/**
 * @module errors
 * One error class (MemweaveError) with an origin (which layer) and a kind
 * (what went wrong), each from an append-only numbered table.
 */
export { MemweaveError, toMemweaveError, errnoFor } from './memweave-error.js'
export { ERROR_KINDS, ERROR_ORIGINS, ERROR_KIND_TEXT, isErrorKind, kindFromCode, originFromCode } from './error-kinds.js'
export type { ErrorKind, ErrorOrigin } from './error-kinds.js'
export { quote, quoteHex, QUOTE_MAX_CHARS, MAX_MESSAGE_CHARS } from './quote.js'
export { errnoCode, isRecord } from './guards.js'
