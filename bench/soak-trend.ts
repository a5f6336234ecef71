/**
 * Is a series (the daemon's RSS or fd count, sampled once a second) still
 * growing after warm-up? A trend test, not one threshold on two points:
 *
 *   samples after warm-up ─▶ Mann–Kendall S over every pair (i < j): sign(x_j − x_i)
 *                          ─▶ Z (variance corrected for ties) ─▶ rising if Z > 2.58 (p < 0.005, one-sided)
 *                          ─▶ Theil–Sen slope (median of pairwise slopes) × window = growth it implies
 *
 * A series fails only if the rise is significant AND the growth it implies
 * over the window is material (a GC sawtooth or a 1 MiB creep over ten
 * minutes is significant with 600 samples, and harmless).
 */

export interface Trend {
  /** Mann–Kendall Z: > 2.58 is a significant rise at p < 0.005. */
  readonly z: number
  /** Theil–Sen slope, units per minute. */
  readonly slopePerMinute: number
  /** slope × the post-warm-up window. */
  readonly impliedGrowth: number
  readonly rising: boolean
}

const Z_RISING = 2.58
/** Pairs used for the Sen slope at most (the median of a sample is as good, and 600² pairs is too many to sort). */
const MAX_PAIRS = 200_000

export function trendOf(points: readonly { readonly t: number; readonly value: number }[]): Trend {
  const n = points.length
  if (n < 8) return { z: 0, slopePerMinute: 0, impliedGrowth: 0, rising: false }
  let s = 0
  const slopes: number[] = []
  const stride = Math.max(1, Math.ceil((n * (n - 1)) / 2 / MAX_PAIRS))
  let pair = 0
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const a = points[i]
      const b = points[j]
      if (a === undefined || b === undefined) continue
      s += Math.sign(b.value - a.value)
      if (pair++ % stride === 0 && b.t > a.t) slopes.push((b.value - a.value) / (b.t - a.t))
    }
  }
  // Ties shrink the variance: Σ t(t−1)(2t+5) over groups of equal values.
  const groups = new Map<number, number>()
  for (const p of points) groups.set(p.value, (groups.get(p.value) ?? 0) + 1)
  let ties = 0
  for (const t of groups.values()) ties += t * (t - 1) * (2 * t + 5)
  const variance = (n * (n - 1) * (2 * n + 5) - ties) / 18
  const z = variance <= 0 ? 0 : s > 0 ? (s - 1) / Math.sqrt(variance) : s < 0 ? (s + 1) / Math.sqrt(variance) : 0
  slopes.sort((x, y) => x - y)
  const slopePerSecond = slopes[Math.floor(slopes.length / 2)] ?? 0
  const window = (points[n - 1]?.t ?? 0) - (points[0]?.t ?? 0)
  return { z: round(z), slopePerMinute: round(slopePerSecond * 60), impliedGrowth: round(slopePerSecond * window), rising: z > Z_RISING }
}

function round(x: number): number {
  return Math.round(x * 100) / 100
}
