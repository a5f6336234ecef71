/**
 * The text form of a thread's registers, shared by every architecture: one
 * line per register like gdb's `info registers` (name, hex, and the signed
 * decimal where it means something), then where they came from and why
 * they may be missing or doubtful.
 */

export function hex64(value: bigint): string {
  return `0x${BigInt.asUintN(64, value).toString(16)}`
}

export interface RegisterRow {
  readonly name: string
  readonly value: bigint
  /** Show the signed decimal too (general registers, not addresses or flags). */
  readonly decimal: boolean
}

export function registerText(rows: readonly RegisterRow[], source: string, warnings: readonly string[]): string {
  const lines = rows.map((r) => `${r.name.padEnd(15)}${hex64(r.value).padEnd(19)}${r.decimal ? String(BigInt.asIntN(64, r.value)) : ''}`.trimEnd())
  return `${[...lines, `source: ${source}`, ...warnings.map((w) => `warning: ${w}`)].join('\n')}\n`
}
