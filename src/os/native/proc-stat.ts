/**
 * Parsers for /proc/PID/stat and /proc/PID/status. The comm field of stat
 * is in parentheses and may itself contain spaces and ')' (a process can
 * name itself "a) b"), so the fields after it are found from the LAST ')'.
 */
import { MemweaveError } from '../../errors/index.js'

/** task flag of kernel threads (include/linux/sched.h). */
export const PF_KTHREAD = 0x00200000

export interface ProcStat {
  readonly pid: number
  readonly comm: string
  readonly state: string
  readonly ppid: number
  readonly flags: number
  readonly numThreads: number
  /** Field 22: start time after boot, in clock ticks. */
  readonly startTime: bigint
}

export function parseProcStat(text: string): ProcStat {
  const open = text.indexOf('(')
  const close = text.lastIndexOf(')')
  if (open < 0 || close < open) throw new MemweaveError('os', 'malformed', `stat line without '(comm)': '${text.slice(0, 60)}'`)
  const pid = Number(text.slice(0, open).trim())
  // rest[0] is field 3 (state), so field n is rest[n - 3].
  const rest = text.slice(close + 1).trim().split(/\s+/)
  const field = (n: number): string => {
    const value = rest[n - 3]
    if (value === undefined) throw new MemweaveError('os', 'malformed', `stat of pid ${pid} has no field ${n}`)
    return value
  }
  const startTime = field(22)
  if (!Number.isSafeInteger(pid) || !/^[0-9]+$/.test(startTime)) {
    throw new MemweaveError('os', 'malformed', `stat of pid ${text.slice(0, open).trim()} is not in the expected format`)
  }
  return {
    pid,
    comm: text.slice(open + 1, close),
    state: field(3),
    ppid: Number(field(4)),
    flags: Number(field(9)),
    numThreads: Number(field(20)),
    startTime: BigInt(startTime),
  }
}

export interface ProcStatus {
  readonly tgid: number
  readonly uid: number
  readonly gid: number
}

/** The few /proc/PID/status lines we need: Tgid, and the real Uid and Gid. */
export function parseProcStatus(text: string): ProcStatus {
  const value = (key: string): number => {
    const match = new RegExp(`^${key}:\\s*([0-9]+)`, 'm').exec(text)
    if (match === null) throw new MemweaveError('os', 'malformed', `status has no ${key} line`)
    return Number(match[1])
  }
  return { tgid: value('Tgid'), uid: value('Uid'), gid: value('Gid') }
}
