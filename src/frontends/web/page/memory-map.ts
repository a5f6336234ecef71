/**
 * A process's memory map as the page uses it: `maps` lines (the Linux
 * /proc/PID/maps format) joined with `phys_maps` runs (virtual range →
 * physical start), address lookup ("which mapping holds 0x…"), and the
 * address expressions of the go-to box: hex, `module+0xOFF`, `[heap]`.
 */
import { parseNumber } from './format.js'

export interface Region {
  readonly start: bigint
  readonly end: bigint
  readonly perms: string
  readonly offset: bigint
  readonly path: string
  /** Bytes of this region backed by physical pages (from phys_maps), and where the first run lies. */
  resident: bigint
  firstPhys: bigint | undefined
}

export interface PhysRun {
  readonly virt: bigint
  readonly end: bigint
  readonly phys: bigint
}

export function parseMaps(text: string): Region[] {
  const regions: Region[] = []
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+)\s+(\S+)\s+([0-9a-f]+)\s+\S+\s+\d+\s*(.*)$/i.exec(line)
    if (m === null) continue
    regions.push({ start: BigInt(`0x${m[1]}`), end: BigInt(`0x${m[2]}`), perms: m[3] ?? '', offset: BigInt(`0x${m[4]}`), path: (m[5] ?? '').trim(), resident: 0n, firstPhys: undefined })
  }
  return regions
}

export function parsePhysMaps(text: string): PhysRun[] {
  const runs: PhysRun[] = []
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+)\s+([0-9a-f]+)\s/i.exec(line)
    if (m !== null) runs.push({ virt: BigInt(`0x${m[1]}`), end: BigInt(`0x${m[2]}`), phys: BigInt(`0x${m[3]}`) })
  }
  return runs
}

/** Adds each region's resident bytes and first physical address (both lists sorted by address). */
export function joinPhys(regions: Region[], runs: readonly PhysRun[]): Region[] {
  let r = 0
  for (const region of regions) {
    while (r < runs.length && (runs[r]?.end ?? 0n) <= region.start) r++
    for (let i = r; i < runs.length; i++) {
      const run = runs[i]
      if (run === undefined || run.virt >= region.end) break
      const from = run.virt > region.start ? run.virt : region.start
      const to = run.end < region.end ? run.end : region.end
      if (to <= from) continue
      region.resident += to - from
      if (region.firstPhys === undefined) region.firstPhys = run.phys + (from - run.virt)
    }
  }
  return regions
}

export function regionAt(regions: readonly Region[], addr: bigint): Region | undefined {
  return regions.find((r) => r.start <= addr && addr < r.end)
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1)
}

/** Resolves `0x…`, `name+0xOFF`, `[heap]`, `[stack]+0x10`; module names match a mapped file's base name (its lowest mapping). */
export function resolveAddress(expression: string, regions: readonly Region[]): bigint | undefined {
  const text = expression.trim()
  const plain = parseNumber(text)
  if (plain !== undefined) return plain
  const m = /^(.+?)(?:\+(.+))?$/.exec(text)
  if (m === null) return undefined
  const name = m[1] ?? ''
  const off = m[2] === undefined ? 0n : parseNumber(m[2])
  if (off === undefined) return undefined
  const matches = regions.filter((r) => r.path === name || baseName(r.path) === name)
  if (matches.length === 0) return undefined
  return matches.reduce((low, r) => (r.start < low ? r.start : low), matches[0]?.start ?? 0n) + off
}

/** Where a process view opens: its [heap], else its main program's first mapping, else its first mapping. */
export function defaultAddress(regions: readonly Region[]): bigint {
  const heap = regions.find((r) => r.path === '[heap]')
  if (heap !== undefined) return heap.start
  const program = regions.find((r) => r.path.startsWith('/'))
  return program?.start ?? regions[0]?.start ?? 0n
}

/** The expression for an address: `module+0xOFF` inside a mapped file or [heap]/[stack], else plain hex. */
export function describeAddress(addr: bigint, regions: readonly Region[]): string {
  const region = regionAt(regions, addr)
  if (region === undefined || region.path === '') return `0x${addr.toString(16)}`
  const name = region.path.startsWith('[') ? region.path : baseName(region.path)
  const base = regions.filter((r) => r.path === region.path).reduce((low, r) => (r.start < low ? r.start : low), region.start)
  return `${name}+0x${(addr - base).toString(16)}`
}
