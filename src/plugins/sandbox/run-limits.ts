/**
 * The limits one run of a sandboxed plugin lives under (timeouts, memory)
 * and how a run ended.
 */

export interface RunLimits {
  /** A call fails when the plugin neither answers nor shows life (progress, callbacks) for this long. */
  readonly callTimeoutMs: number
  /** No call lasts longer than this, alive or not. */
  readonly maxCallMs: number
  readonly startTimeoutMs: number
  /** After a timeout, a ping must come back within this, or the plugin is hung and killed. */
  readonly pingTimeoutMs: number
  readonly rssLimitMb: number
  readonly watchdogIntervalMs: number
}

/** Callbacks of one run served at once; more are refused ('limit') until some finish. */
export const MAX_CALLBACKS_IN_FLIGHT = 64

export const DEFAULT_RUN_LIMITS: RunLimits = {
  callTimeoutMs: 5000, maxCallMs: 300_000, startTimeoutMs: 15_000, pingTimeoutMs: 1000, rssLimitMb: 256, watchdogIntervalMs: 200,
}

export interface ExitInfo {
  readonly code: number | null
  readonly signal: string | null
  /** 'crashed (exit code 1)', 'killed: memory limit …', … */
  readonly reason: string
}
