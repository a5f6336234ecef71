/**
 * The CLI's pino logger, writing to stderr: JSON lines with --json, else one
 * short human line per record ("12:00:01.123 INFO  connector created
 * connector=dump kind=file"). stderr is synchronous for files, pipes and
 * terminals on Linux, so nothing is lost when the process exits.
 */
import { pino } from 'pino'
import type { DestinationStream, Level, Logger } from 'pino'
import { usageError } from './cli-errors.js'
import { LOG_LEVELS } from './globals.js'

const LEVEL_NAMES: Readonly<Record<number, string>> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' }
/** Fields every record has that a human line shows elsewhere or not at all. */
const HIDDEN = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'v'])

export interface LoggerOptions {
  readonly level: string
  readonly json: boolean
  /** Where lines go (default: stderr). */
  readonly write?: (line: string) => void
}

export function parseLogLevel(text: string): Level | 'silent' {
  if (!isLevel(text)) throw usageError(`log level '${text}' is not one of ${LOG_LEVELS.join(', ')}`)
  return text
}

function isLevel(text: string): text is Level | 'silent' {
  return LOG_LEVELS.includes(text)
}

export function createLogger(options: LoggerOptions): Logger {
  const write = options.write ?? ((line: string): void => { process.stderr.write(line) })
  const destination: DestinationStream = {
    write: (line: string): void => { write(options.json ? line : humanLine(line)) },
  }
  return pino({ level: parseLogLevel(options.level), base: undefined }, destination)
}

/** One pino JSON record as a short line; anything unparsable passes through unchanged. */
export function humanLine(jsonLine: string): string {
  let record: unknown
  try {
    record = JSON.parse(jsonLine)
  } catch {
    // Not a record (should not happen with pino); show it as it came rather than lose it.
    return jsonLine
  }
  if (typeof record !== 'object' || record === null) return jsonLine
  const fields = Object.entries(record)
  const get = (key: string): unknown => fields.find(([k]) => k === key)?.[1]
  const time = typeof get('time') === 'number' ? new Date(Number(get('time'))).toISOString().slice(11, 23) : ''
  const level = LEVEL_NAMES[Number(get('level'))] ?? String(get('level'))
  const msg = get('msg')
  const extras = fields.filter(([key]) => !HIDDEN.has(key)).map(([key, value]) => `${key}=${formatValue(value)}`)
  return `${time} ${level.padEnd(5)} ${typeof msg === 'string' ? msg : msg === undefined ? '' : formatValue(msg)}${extras.length > 0 ? ` ${extras.join(' ')}` : ''}\n`
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return /\s/.test(value) ? JSON.stringify(value) : value
  // pino's error serializer gives { type, message, stack }: the message is what a reader needs.
  if (typeof value === 'object' && value !== null && 'message' in value && typeof value.message === 'string') return JSON.stringify(value.message)
  return JSON.stringify(value) ?? String(value)
}
