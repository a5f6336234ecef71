/**
 * The scan rpc's request and matchers. A request is a hex string, or
 * {pattern, type?: 'hex'|'text'|'regex', maxResults?, range?: {start, end},
 * context?}. Hex may hold '??' wildcard bytes. Regular expressions run on
 * the bytes read as latin1 (one character per byte); those that may
 * backtrack exponentially are refused.
 */
import { MemweaveError, isRecord } from '../../errors/index.js'
import { unsafeRegexReason } from '../object-filter.js'

export const DEFAULT_MAX_RESULTS = 100
export const MAX_RESULTS_LIMIT = 10_000
export const DEFAULT_CONTEXT_BYTES = 16
/** Regex matches longer than this may be missed where two chunks meet. */
export const REGEX_OVERLAP_BYTES = 4096

export interface Matcher {
  /** Bytes kept from one chunk to the next so matches across the seam are found. */
  readonly overlap: number
  find(data: Uint8Array): Iterable<{ readonly offset: number; readonly length: number }>
}

export interface ScanRequest {
  readonly matcher: Matcher
  readonly maxResults: number
  readonly start: bigint | undefined
  readonly end: bigint | undefined
  readonly contextBytes: number
}

function invalid(message: string): MemweaveError {
  return new MemweaveError('plugin', 'invalid_argument', `scan: ${message}`)
}


function bytesMatcher(needle: Uint8Array): Matcher {
  const buffer = Buffer.from(needle)
  return {
    overlap: needle.length - 1,
    *find(data) {
      const hay = Buffer.from(data.buffer, data.byteOffset, data.byteLength)
      for (let at = hay.indexOf(buffer); at >= 0; at = hay.indexOf(buffer, at + 1)) yield { offset: at, length: needle.length }
    },
  }
}

const latin1 = new TextDecoder('latin1')

function regexMatcher(regex: RegExp, overlap: number): Matcher {
  return {
    overlap,
    *find(data) {
      const text = latin1.decode(data)
      regex.lastIndex = 0
      for (let m = regex.exec(text); m !== null; m = regex.exec(text)) {
        if (m[0].length === 0) { regex.lastIndex++; continue }
        yield { offset: m.index, length: m[0].length }
      }
    },
  }
}

function compileRegex(source: string): RegExp {
  if (source.length === 0 || source.length > 1000) throw invalid('a regex pattern must have 1 to 1000 characters')
  const unsafe = unsafeRegexReason(source)
  if (unsafe !== undefined) throw invalid(`pattern ${unsafe}`)
  try {
    return new RegExp(source, 'gs')
  } catch (err) {
    throw new MemweaveError('plugin', 'invalid_argument', `scan: /${source}/ is not a valid regular expression`, { cause: err })
  }
}

function hexMatcher(pattern: string): Matcher {
  const compact = pattern.replace(/\s+/g, '').toLowerCase()
  if (!/^([0-9a-f]{2}|\?\?)+$/.test(compact)) throw invalid(`'${pattern.slice(0, 80)}' is not hex bytes (pairs of hex digits, '??' for any byte)`)
  const pairs: string[] = compact.match(/../g) ?? []
  if (pairs.length > 1024) throw invalid('a hex pattern may have at most 1024 bytes')
  if (!pairs.includes('??')) return bytesMatcher(Uint8Array.from(pairs.map((p) => parseInt(p, 16))))
  if (pairs.every((p) => p === '??')) throw invalid('a hex pattern needs at least one fixed byte')
  const source = pairs.map((p) => (p === '??' ? '[\\s\\S]' : `\\x${p}`)).join('')
  return regexMatcher(new RegExp(source, 'g'), pairs.length - 1)
}

function address(value: unknown, what: string): bigint | undefined {
  if (value === undefined || value === null) return undefined
  try {
    if (typeof value === 'bigint') return value
    if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value)
    if (typeof value === 'string' && /^(0x[0-9a-f]+|[0-9]+)$/i.test(value)) return BigInt(value)
  } catch (err) {
    throw new MemweaveError('plugin', 'invalid_argument', `scan: ${what} is not an address`, { cause: err })
  }
  throw invalid(`${what} must be an address (number, bigint or "0x…" string)`)
}

function boundedInt(value: unknown, what: string, min: number, max: number, fallback: number): number {
  if (value === undefined || value === null) return fallback
  const n = typeof value === 'bigint' ? Number(value) : value
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) throw invalid(`${what} must be an integer from ${min} to ${max}`)
  return n
}

export function parseScanRequest(request: unknown): ScanRequest {
  if (typeof request === 'string') return parseScanRequest({ pattern: request })
  if (!isRecord(request)) throw invalid('the request is a hex string or {pattern, type?, maxResults?, range?, context?}')
  const pattern = request['pattern']
  if (typeof pattern !== 'string' || pattern.length === 0) throw invalid('pattern must be a non-empty string')
  const type = request['type'] ?? 'hex'
  let matcher: Matcher
  if (type === 'hex') matcher = hexMatcher(pattern)
  else if (type === 'text') {
    if (pattern.length > 1024) throw invalid('a text pattern may have at most 1024 characters')
    matcher = bytesMatcher(new TextEncoder().encode(pattern))
  } else if (type === 'regex') matcher = regexMatcher(compileRegex(pattern), REGEX_OVERLAP_BYTES)
  else throw invalid(`type must be 'hex', 'text' or 'regex', not ${JSON.stringify(type)}`)
  const range = request['range']
  if (range !== undefined && !isRecord(range)) throw invalid('range must be {start?, end?}')
  const start = address(range?.['start'], 'range.start')
  const end = address(range?.['end'], 'range.end')
  if (start !== undefined && end !== undefined && end <= start) throw invalid('range.end must be above range.start')
  return {
    matcher,
    maxResults: boundedInt(request['maxResults'], 'maxResults', 1, MAX_RESULTS_LIMIT, DEFAULT_MAX_RESULTS),
    start,
    end,
    contextBytes: boundedInt(request['context'], 'context', 0, 256, DEFAULT_CONTEXT_BYTES),
  }
}
