/**
 * The small statistics the benches share: the median of repeated timings
 * (a 2-core machine shared with other work is noisy) and a rate measured by
 * running an operation for a while.
 */

/** The middle value (the upper one of an even count); NaN for none. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN
}

/** Runs fn one call after another for about durationMs; returns operations per second (opsPerCall per call). */
export async function rate(durationMs: number, opsPerCall: number, fn: () => Promise<unknown>): Promise<number> {
  let calls = 0
  const start = performance.now()
  while (performance.now() - start < durationMs) { await fn(); calls++ }
  return (calls * opsPerCall) / ((performance.now() - start) / 1000)
}
