/**
 * `bash_history` on processes named bash: the command history recovered
 * from memory, as Volatility's linux.bash does. Bash keeps history as
 * HIST_ENTRY structures on its heap: {char *line; char *timestamp; void
 * *data}, where timestamp points at "#" + decimal seconds. So: find
 * "#<digits>\0" strings in [heap], find 8-byte-aligned pointers to them
 * (each the timestamp field of an entry), and read the line the previous
 * field points at. The history list (an array of entry pointers) gives
 * the order; entries not in it (freed, still in memory) follow by time.
 * Output: "YYYY-MM-DDTHH:MM:SSZ<TAB>command" per entry, newlines escaped.
 */
import { definePlugin } from '../plugin-api.js'
import type { PluginContext } from '../plugin-api.js'
import { readableRuns } from './memory-runs.js'

/** Heaps larger than this are not scanned (a bash heap is usually a few MiB). */
const MAX_HEAP_BYTES = 256 * 1024 * 1024
const MAX_LINE_BYTES = 64 * 1024
const TIMESTAMP = /#([0-9]{9,11})\0/g

interface HeapRun {
  readonly addr: number
  readonly data: Buffer
}

export interface HistoryEntry {
  /** Address of the HIST_ENTRY. */
  readonly entry: number
  readonly time: number
  readonly line: string
}

/** Heap addresses are below 2^53 on x86-64 (user space ends at 2^47 or 2^56), so plain numbers are exact. */
function u64At(run: HeapRun, offset: number): number {
  return run.data.readUInt32LE(offset + 4) * 0x1_0000_0000 + run.data.readUInt32LE(offset)
}

function runAt(runs: readonly HeapRun[], addr: number): HeapRun | undefined {
  return runs.find((r) => addr >= r.addr && addr < r.addr + r.data.length)
}

/** The NUL-terminated string at addr, if it is plausible history text (printable, tabs and newlines allowed). */
function lineAt(runs: readonly HeapRun[], addr: number): string | undefined {
  const run = runAt(runs, addr)
  if (run === undefined) return undefined
  const start = addr - run.addr
  const nul = run.data.indexOf(0, start)
  const end = nul < 0 ? run.data.length : nul
  if (end === start || end - start > MAX_LINE_BYTES || nul < 0) return undefined
  const bytes = run.data.subarray(start, end)
  if (bytes.some((b) => b < 0x20 && b !== 0x09 && b !== 0x0a)) return undefined
  const text = bytes.toString('utf8')
  return text.includes('\ufffd') ? undefined : text
}

/** Every 8-byte-aligned slot whose value is in `targets`: slot address → value. */
function pointersTo(runs: readonly HeapRun[], targets: ReadonlySet<number>): Map<number, number> {
  const out = new Map<number, number>()
  for (const run of runs) {
    const first = (8 - (run.addr % 8)) % 8
    for (let off = first; off + 8 <= run.data.length; off += 8) {
      const value = u64At(run, off)
      if (targets.has(value)) out.set(run.addr + off, value)
    }
  }
  return out
}

export function findHistory(runs: readonly HeapRun[]): HistoryEntry[] {
  const times = new Map<number, number>()
  for (const run of runs) {
    const text = run.data.toString('latin1')
    for (const m of text.matchAll(TIMESTAMP)) times.set(run.addr + (m.index ?? 0), Number(m[1]))
  }
  const entries = new Map<number, HistoryEntry>()
  for (const [slot, tsAddr] of pointersTo(runs, new Set(times.keys()))) {
    const entry = slot - 8
    const run = runAt(runs, entry)
    if (run === undefined || entry < run.addr) continue
    const line = lineAt(runs, u64At(run, entry - run.addr))
    if (line !== undefined) entries.set(entry, { entry, time: times.get(tsAddr) ?? 0, line })
  }
  return orderEntries(runs, entries)
}

/** The longest array of consecutive pointers to entries is bash's history list; it gives the order. */
function orderEntries(runs: readonly HeapRun[], entries: ReadonlyMap<number, HistoryEntry>): HistoryEntry[] {
  const slots = [...pointersTo(runs, new Set(entries.keys()))].sort((a, b) => a[0] - b[0])
  let best: number[] = []
  let current: number[] = []
  let lastSlot = -16
  for (const [slot, value] of slots) {
    if (slot !== lastSlot + 8) current = []
    current.push(value)
    lastSlot = slot
    if (current.length > best.length) best = [...current]
  }
  const listed = new Set(best)
  const ordered = best.map((e) => entries.get(e)).filter((e): e is HistoryEntry => e !== undefined)
  const rest = [...entries.values()].filter((e) => !listed.has(e.entry)).sort((a, b) => a.time - b.time || a.entry - b.entry)
  return [...ordered, ...rest]
}

export function formatHistory(entries: readonly HistoryEntry[]): string {
  return entries.map((e) => {
    const when = new Date(e.time * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z')
    return `${when}\t${e.line.replaceAll('\\', '\\\\').replaceAll('\n', '\\n')}\n`
  }).join('')
}

export async function bashHistory(ctx: PluginContext): Promise<string> {
  const heaps = (await ctx.maps()).filter((m) => m.path === '[heap]' && m.perms.startsWith('r'))
  const runs: HeapRun[] = []
  let total = 0
  for await (const run of readableRuns(ctx, heaps.map((m) => ({ start: m.start, end: m.end, perms: m.perms, path: m.path })), { signal: ctx.signal })) {
    if (run.data.length === 0) continue
    total += run.data.length
    if (total > MAX_HEAP_BYTES) break
    const last = runs[runs.length - 1]
    // Join contiguous chunks so structures and strings crossing a chunk seam are whole.
    if (last !== undefined && last.addr + last.data.length === Number(run.addr)) runs[runs.length - 1] = { addr: last.addr, data: Buffer.concat([last.data, run.data]) }
    else runs.push({ addr: Number(run.addr), data: Buffer.from(run.data.buffer, run.data.byteOffset, run.data.byteLength) })
  }
  return formatHistory(findHistory(runs))
}

export const bashHistoryPlugin = definePlugin({
  name: 'bash-history',
  version: '1.0.0',
  attachesTo: 'process',
  filter: { name: 'bash' },
  description: 'command history of bash processes, recovered from HIST_ENTRY structures on the heap',
  leaves: {
    bash_history: { description: 'ISO time<TAB>command per history entry, in history order', read: (ctx) => bashHistory(ctx) },
  },
})
