/**
 * How process and module names become path segments under os/NAME/. A name
 * may hold anything a kernel allows (kernel threads are called
 * `kworker/0:1`), but a segment may not contain '/' nor be '.' or '..', so
 * names are escaped one way, predictably, and the scheme is documented in
 * the processes/readme leaf.
 */
import { hex } from '../../mem/index.js'

/** U+2215 DIVISION SLASH: looks like '/', is not a separator. */
export const SLASH_STAND_IN = '\u2215'
/** U+2024 ONE DOT LEADER: stands in for each '.' of a name that is exactly '.' or '..'. */
export const DOT_STAND_IN = '\u2024'
/** Shown for an empty name. */
export const EMPTY_NAME = '_'

/** A name as a path segment: '/' → '∕', '.'/'..' → '․'/'․․', '' → '_'. */
export function segmentForName(name: string): string {
  if (name.length === 0) return EMPTY_NAME
  if (name === '.' || name === '..') return DOT_STAND_IN.repeat(name.length)
  return name.replaceAll('/', SLASH_STAND_IN).replaceAll('\0', '')
}

/** The by-pid-name segment: `NAME (PID)` with NAME escaped. */
export function pidNameSegment(name: string, pid: number): string {
  return `${segmentForName(name)} (${pid})`
}

const PID_PATTERN = /^(0|[1-9][0-9]{0,9})$/

/** The pid a by-pid segment names, or undefined for anything that is not a plain decimal pid. */
export function parsePidSegment(segment: string): number | undefined {
  if (!PID_PATTERN.test(segment)) return undefined
  const pid = Number(segment)
  return pid <= 0x7fffffff ? pid : undefined
}

/** Splits a by-pid-name segment into its escaped name and pid. */
export function parsePidNameSegment(segment: string): { name: string; pid: number } | undefined {
  const match = /^(.*) \(([0-9]+)\)$/s.exec(segment)
  if (match === null) return undefined
  const pid = parsePidSegment(match[2] ?? '')
  return pid === undefined ? undefined : { name: match[1] ?? '', pid }
}

/**
 * Unique segments for named things (modules) sorted by base: the lowest
 * base keeps the plain name, later ones with the same name get `NAME@0xBASE`.
 */
export function uniqueSegments<T extends { readonly name: string; readonly base: bigint }>(items: readonly T[]): Map<string, T> {
  const out = new Map<string, T>()
  for (const item of [...items].sort((a, b) => (a.base < b.base ? -1 : a.base > b.base ? 1 : 0))) {
    const plain = segmentForName(item.name)
    out.set(out.has(plain) ? `${plain}@${hex(item.base)}` : plain, item)
  }
  return out
}
