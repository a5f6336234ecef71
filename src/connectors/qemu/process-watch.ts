/**
 * Is the QEMU process we attached to still the same, running process?
 * Identity is pid + start time (field 22 of /proc/PID/stat), so a reused
 * pid is noticed too; a zombie counts as exited. `check()` reuses a result
 * for a short time so small reads stay cheap; a slow unref'd poll makes an
 * exit show up (and end the lifetime) even when nobody reads.
 */
import { readFile } from 'node:fs/promises'
import type { Logger } from 'pino'

export interface ProcessIdentity {
  readonly pid: number
  readonly startTicks: bigint
}

export interface ProcessWatchOptions {
  readonly identity: ProcessIdentity
  readonly log: Logger
  /** Called once, when the process is found gone. */
  readonly onExit: (reason: string) => void
  /** How long a check result is reused. */
  readonly maxAgeMs?: number
  /** Background poll period; 0 turns the poll off. */
  readonly pollMs?: number
}

export const DEFAULT_CHECK_AGE_MS = 100
export const DEFAULT_POLL_MS = 1000

export interface ProcStat {
  readonly state: string
  readonly startTicks: bigint
}

/** State and start time from /proc/PID/stat text (comm may hold spaces and parentheses). */
export function parseProcStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(')')
  if (close < 0) return undefined
  const fields = text.slice(close + 2).split(' ')
  // fields[0] is field 3 (state); start time is field 22.
  const state = fields[0]
  const start = fields[19]
  if (state === undefined || start === undefined || !/^\d+$/.test(start)) return undefined
  return { state, startTicks: BigInt(start) }
}

/** Current state of a pid, or undefined when there is no such process. */
export async function readProcStat(pid: number): Promise<ProcStat | undefined> {
  let text: string
  try {
    text = await readFile(`/proc/${pid}/stat`, 'utf8')
  } catch (err) {
    const code = typeof err === 'object' && err !== null && 'code' in err ? err.code : undefined
    if (code === 'ENOENT' || code === 'ESRCH') return undefined
    throw err
  }
  return parseProcStat(text)
}

export class ProcessWatch {
  private exitReason: string | undefined
  private checkedAt = Number.NEGATIVE_INFINITY
  private pending: Promise<string | undefined> | undefined
  private timer: NodeJS.Timeout | undefined
  private readonly maxAgeMs: number

  constructor(private readonly options: ProcessWatchOptions) {
    this.maxAgeMs = options.maxAgeMs ?? DEFAULT_CHECK_AGE_MS
    const pollMs = options.pollMs ?? DEFAULT_POLL_MS
    if (pollMs > 0) {
      this.timer = setInterval(() => {
        this.checkNow().catch((err: unknown) => options.log.warn({ err, pid: options.identity.pid }, 'checking the QEMU process failed'))
      }, pollMs)
      this.timer.unref()
    }
  }

  /** Undefined while the process runs, else why it is gone (sticky). */
  check(): Promise<string | undefined> | string | undefined {
    if (this.exitReason !== undefined) return this.exitReason
    if (performance.now() - this.checkedAt < this.maxAgeMs) return undefined
    return this.checkNow()
  }

  /** Forgets the cached result (a read came back short) and checks now. */
  poke(): Promise<string | undefined> {
    this.checkedAt = Number.NEGATIVE_INFINITY
    return this.checkNow()
  }

  close(): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
  }

  private checkNow(): Promise<string | undefined> {
    this.pending ??= this.compare().finally(() => { this.pending = undefined })
    return this.pending
  }

  private async compare(): Promise<string | undefined> {
    if (this.exitReason !== undefined) return this.exitReason
    const started = performance.now()
    const { pid, startTicks } = this.options.identity
    let reason: string | undefined
    try {
      const now = await readProcStat(pid)
      if (now === undefined || now.state === 'Z' || now.state === 'X') reason = `is gone: QEMU process ${pid} exited`
      else if (now.startTicks !== startTicks) reason = `is gone: QEMU process ${pid} exited (the pid now belongs to another process)`
    } catch (err) {
      // Cannot tell (e.g. permission): keep using the process; the next check tries again.
      this.options.log.warn({ err, pid }, 'cannot read /proc/PID/stat to check the QEMU process')
      return undefined
    }
    this.checkedAt = started
    if (reason !== undefined && this.exitReason === undefined) {
      this.exitReason = reason
      this.close()
      this.options.onExit(reason)
    }
    return this.exitReason
  }
}
