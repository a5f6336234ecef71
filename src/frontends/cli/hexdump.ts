/**
 * Hex in and out: an `xxd`-style dump (offset, 16 bytes in 2-byte groups,
 * ASCII), where bytes that could not be read show as `??`, and parsing of
 * hex strings given to `write --hex`.
 */
import { usageError } from './cli-errors.js'

const BYTES_PER_LINE = 16

/**
 * Dumps `bytes`, the content found at `start`. `readable(i)` says whether
 * byte i was read; unreadable bytes print as ?? (and '?' in the text column).
 */
export function hexdumpLines(start: bigint, bytes: Uint8Array, readable: (index: number) => boolean = () => true): string[] {
  const end = start + BigInt(bytes.length)
  const width = end > 0xffffffffn ? 16 : 8
  const lines: string[] = []
  for (let lineStart = 0; lineStart < bytes.length; lineStart += BYTES_PER_LINE) {
    let hexPart = ''
    let text = ''
    for (let i = 0; i < BYTES_PER_LINE; i++) {
      const index = lineStart + i
      if (i > 0 && i % 2 === 0) hexPart += ' '
      if (index >= bytes.length) { hexPart += '  '; continue }
      const byte = bytes[index] ?? 0
      if (!readable(index)) { hexPart += '??'; text += '?'; continue }
      hexPart += byte.toString(16).padStart(2, '0')
      text += byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : '.'
    }
    const offset = (start + BigInt(lineStart)).toString(16).padStart(width, '0')
    lines.push(`${offset}: ${hexPart}  ${text}`)
  }
  return lines
}

/** Parses "deadbeef", "de ad be ef" or "0xdeadbeef" into bytes. */
export function parseHexBytes(text: string): Uint8Array {
  let digits = text.replace(/\s+/g, '')
  if (/^0x/i.test(digits)) digits = digits.slice(2)
  if (digits.length === 0) throw usageError('--hex needs at least one byte')
  if (!/^[0-9a-f]+$/i.test(digits)) throw usageError(`--hex '${text.slice(0, 40)}' holds something other than hex digits`)
  if (digits.length % 2 !== 0) throw usageError(`--hex '${text.slice(0, 40)}' has an odd number of digits (two per byte)`)
  return Uint8Array.from(Buffer.from(digits, 'hex'))
}
