/**
 * The one-letter task state /proc shows (fs/proc/array.c): the reportable
 * bits of __state and exit_state, idle kernel threads (TASK_IDLE) as 'I',
 * rtlock waiters as 'D', then the highest set bit picks the letter. These
 * TASK_* values are #defines (not in BTF) and stable across 5.x/6.x.
 */

const TASK_UNINTERRUPTIBLE = 0x2
const TASK_NOLOAD = 0x400
const TASK_RTLOCK_WAIT = 0x1000
/** TASK_INTERRUPTIBLE (1) | UNINTERRUPTIBLE | __TASK_STOPPED | __TASK_TRACED | EXIT_DEAD | EXIT_ZOMBIE | TASK_PARKED */
const TASK_REPORT = 0x7f
const TASK_IDLE = TASK_UNINTERRUPTIBLE | TASK_NOLOAD
const TASK_REPORT_IDLE = TASK_REPORT + 1

/** Index = fls(state): running, sleeping, disk sleep, stopped, tracing stop, dead, zombie, parked, idle. */
const STATE_LETTERS = ['R', 'S', 'D', 'T', 't', 'X', 'Z', 'P', 'I'] as const

function fls(value: number): number {
  return value === 0 ? 0 : 32 - Math.clz32(value)
}

export function taskStateLetter(state: number, exitState: number): string {
  let report = (state | exitState) & TASK_REPORT
  if ((state & TASK_IDLE) === TASK_IDLE) report = TASK_REPORT_IDLE
  if ((state & TASK_RTLOCK_WAIT) !== 0) report = TASK_UNINTERRUPTIBLE
  return STATE_LETTERS[fls(report)] ?? '?'
}
