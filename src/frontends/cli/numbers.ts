/**
 * Numbers on the command line (offsets and lengths: decimal, 0x hex, an
 * optional k/m/g binary suffix) and sizes in output.
 */
import { usageError } from './cli-errors.js'

const NUMBER_PATTERN = /^(0x[0-9a-f]+|[0-9]+)([kmg])?(i?b)?$/i
const SUFFIX: Readonly<Record<string, bigint>> = { k: 1n << 10n, m: 1n << 20n, g: 1n << 30n }

/** Parses "4096", "0x1000", "4k", "1MiB" into a non-negative bigint. */
export function parseBigNumber(text: string, what: string): bigint {
  const match = NUMBER_PATTERN.exec(text.trim().replaceAll('_', ''))
  if (match === null) throw usageError(`${what} '${text}' is not a number (decimal, 0x hex, optional k/m/g suffix)`)
  const value = BigInt(match[1] ?? '0') * (SUFFIX[(match[2] ?? '').toLowerCase()] ?? 1n)
  if (value >= 1n << 64n) throw usageError(`${what} '${text}' does not fit in 64 bits`)
  return value
}

/** A byte offset into a leaf (0..2^64). */
export function parseOffset(text: string): bigint {
  return parseBigNumber(text, 'offset')
}

/** A byte count up to `max`, refused with a clear message above it. */
export function parseLength(text: string, max: number, hint = ''): number {
  const value = parseBigNumber(text, 'length')
  if (value > BigInt(max)) {
    throw usageError(`length ${text} is more than the ${formatSize(max)} one command reads at a time${hint === '' ? '' : `; ${hint}`}`)
  }
  return Number(value)
}

/** A process id. */
export function parsePid(text: string): number {
  if (!/^[0-9]+$/.test(text)) throw usageError(`'${text}' is not a process id`)
  const pid = Number(text)
  if (!Number.isSafeInteger(pid) || pid > 0x7fffffff) throw usageError(`'${text}' is not a process id`)
  return pid
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'] as const

/** "512 B", "4 KiB", "1.5 GiB"; undefined sizes print as '?'. */
export function formatSize(size: bigint | number | undefined): string {
  if (size === undefined) return '?'
  let value = Number(size)
  let unit = 0
  while (value >= 1024 && unit < UNITS.length - 1) { value /= 1024; unit++ }
  const digits = unit === 0 || value >= 100 || Number.isInteger(value) ? 0 : 1
  return `${value.toFixed(digits)} ${UNITS[unit]}`
}

export function hex(value: bigint | number): string {
  return `0x${value.toString(16)}`
}

/** A size as JSON gives it (number, or a "0x…" string for large values) back to a bigint. */
export function sizeFromJson(value: unknown): bigint | undefined {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value)
  if (typeof value === 'bigint') return value
  if (typeof value === 'string' && /^(0x[0-9a-f]+|[0-9]+)$/i.test(value)) return BigInt(value)
  return undefined
}
