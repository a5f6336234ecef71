/**
 * Quoting client-supplied values in error messages. A message names what was
 * wrong with a short prefix of the value, never the whole of it: a 1 MiB
 * control line or a 4000-bit address must not come back as a 1 MiB error
 * (a client would fail on the reply's size instead of showing the error).
 * MemweaveError bounds every message with boundMessage as a last resort.
 */

/** Characters of a client-supplied string quoted in a message. */
export const QUOTE_MAX_CHARS = 80
/** Longest message a MemweaveError carries; longer ones are cut with a note. */
export const MAX_MESSAGE_CHARS = 2048

/** `'text'`, or `'prefix…' (N characters)` when longer than max. */
export function quote(text: string, max = QUOTE_MAX_CHARS): string {
  if (text.length <= max) return `'${text}'`
  return `'${text.slice(0, max)}…' (${text.length} characters)`
}

/** A number as hex (`0x1f`), or a prefix and its size in bits when it is huge. */
export function quoteHex(value: bigint | number, maxDigits = 20): string {
  const big = typeof value === 'bigint' ? value : Number.isInteger(value) ? BigInt(value) : undefined
  if (big === undefined) return String(value).slice(0, maxDigits)
  const sign = big < 0n ? '-' : ''
  const digits = (big < 0n ? -big : big).toString(16)
  if (digits.length <= maxDigits) return `${sign}0x${digits}`
  return `${sign}0x${digits.slice(0, 8)}… (a ${digits.length * 4}-bit number)`
}

export function boundMessage(message: string, max = MAX_MESSAGE_CHARS): string {
  if (message.length <= max) return message
  return `${message.slice(0, max)}… (message cut at ${max} of ${message.length} characters)`
}
