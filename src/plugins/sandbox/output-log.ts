/**
 * A plugin's stdout and stderr, logged line by line with its name, at a
 * bounded rate (a plugin printing in a loop cannot flood the daemon's
 * log), keeping the last few stderr lines for error messages.
 */
import type { Logger } from 'pino'

const MAX_LINES_PER_WINDOW = 50
const WINDOW_MS = 5000
const MAX_LINE_CHARS = 500
const KEPT_LINES = 5

export class OutputLog {
  private partial = { stdout: '', stderr: '' }
  private windowStart = 0
  private linesInWindow = 0
  private suppressed = 0
  private readonly recent: string[] = []
  private fatal: string | undefined

  constructor(private readonly log: Logger, private readonly label: string) {}

  write(stream: 'stdout' | 'stderr', chunk: Buffer): void {
    const text = this.partial[stream] + chunk.toString('utf8')
    const lines = text.split('\n')
    this.partial[stream] = (lines.pop() ?? '').slice(-MAX_LINE_CHARS)
    for (const line of lines) this.line(stream, line)
  }

  flush(): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      if (this.partial[stream] !== '') this.line(stream, this.partial[stream])
      this.partial[stream] = ''
    }
    if (this.suppressed > 0) this.log.warn({ plugin: this.label, suppressed: this.suppressed }, `plugin '${this.label}': ${this.suppressed} output lines not logged (rate limit)`)
    this.suppressed = 0
  }

  /** The last stderr line that reads like a fatal error (V8's "FATAL ERROR: …", an uncaught "Error: …"), if any. */
  lastError(): string | undefined {
    return this.fatal
  }

  /** The last stderr lines, as a suffix for error messages (empty when there were none). */
  lastLines(): string {
    return this.recent.length === 0 ? '' : `; its last output: ${this.recent.join(' | ')}`
  }

  private line(stream: 'stdout' | 'stderr', raw: string): void {
    const line = raw.slice(0, MAX_LINE_CHARS)
    if (line.trim() === '') return
    if (stream === 'stderr') {
      if (/FATAL ERROR|^\s*\w*Error\b/.test(line)) this.fatal = line.trim().slice(0, 200)
      this.recent.push(line.slice(0, 200))
      if (this.recent.length > KEPT_LINES) this.recent.shift()
    }
    const now = Date.now()
    if (now - this.windowStart > WINDOW_MS) {
      if (this.suppressed > 0) this.log.warn({ plugin: this.label, suppressed: this.suppressed }, `plugin '${this.label}': ${this.suppressed} output lines not logged (rate limit)`)
      this.windowStart = now
      this.linesInWindow = 0
      this.suppressed = 0
    }
    if (++this.linesInWindow > MAX_LINES_PER_WINDOW) { this.suppressed++; return }
    this.log.info({ plugin: this.label, stream }, `plugin '${this.label}' ${stream}: ${line}`)
  }
}
