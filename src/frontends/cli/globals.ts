/**
 * The program-wide options as a command sees them, read from commander
 * without loading anything else: every command definition imports this,
 * and only its action loads the command's implementation (program.ts).
 */

/** Levels of --log-level (pino's, and silent). */
export const LOG_LEVELS: readonly string[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

/** Options every command accepts (declared on the program in program.ts). */
export interface GlobalOptions {
  readonly daemon?: string
  readonly token?: string
  readonly tokenFile?: string
  readonly embedded?: boolean
  readonly config?: string
  readonly with: readonly string[]
  readonly allowWrite?: boolean
  readonly json?: boolean
  readonly debug?: boolean
  readonly logLevel?: string
  readonly timeoutMs?: number
  /** Open every leaf exclusively (protocol 1.3). */
  readonly exclusive?: boolean
}

/** The program-wide options as seen from a (sub)command; `with` always an array. */
export function globalsOf(command: { optsWithGlobals<T extends Record<string, unknown>>(): T }): GlobalOptions {
  const all = command.optsWithGlobals<Record<string, unknown>>()
  const text = (key: string): string | undefined => (typeof all[key] === 'string' ? all[key] : undefined)
  const flag = (key: string): boolean => all[key] === true
  const withLines = Array.isArray(all.with) ? all.with.filter((v): v is string => typeof v === 'string') : []
  return {
    daemon: text('daemon'), token: text('token'), tokenFile: text('tokenFile'), embedded: flag('embedded'),
    config: text('config'), with: withLines, allowWrite: flag('allowWrite'), json: flag('json'), debug: flag('debug'),
    logLevel: text('logLevel'), timeoutMs: typeof all.timeout === 'number' ? all.timeout : undefined, exclusive: flag('exclusive'),
  }
}

/** Repeatable options gather into an array (no default, so help does not print "[]"). */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value]
}
