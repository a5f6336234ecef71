/**
 * Shared shape of benchmark output: each bench prints one JSON object with
 * rows of (metric, value, unit) and, where a limit was measured in the same
 * run, the ceiling and the ratio. The runner stores it with the machine.
 */
import os from 'node:os'

export interface BenchRow {
  readonly metric: string
  readonly value: number
  readonly unit: string
  /** The limit measured in the same run (dd, pread loop, in-process …). */
  readonly ceiling?: { readonly what: string; readonly value: number }
  /** value / ceiling.value */
  readonly ratio?: number
  readonly goal?: string
}

export interface BenchReport {
  readonly bench: string
  readonly description: string
  readonly rows: readonly BenchRow[]
  readonly notes?: readonly string[]
}

export function machine(): Record<string, unknown> {
  const cpus = os.cpus()
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    kernel: os.release(),
    date: new Date().toISOString(),
  }
}

export function row(metric: string, value: number, unit: string, ceiling?: { what: string; value: number }, goal?: string): BenchRow {
  return {
    metric,
    value: round(value),
    unit,
    ...(ceiling === undefined ? {} : { ceiling: { what: ceiling.what, value: round(ceiling.value) }, ratio: round(value / ceiling.value, 3) }),
    ...(goal === undefined ? {} : { goal }),
  }
}

function round(value: number, digits = 1): number {
  const f = 10 ** digits
  return Math.round(value * f) / f
}

/** Prints the report as the last line of stdout, where the runner looks for it. */
export function emit(report: BenchReport): void {
  process.stdout.write(`${JSON.stringify(report)}\n`)
}
