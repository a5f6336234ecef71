/**
 * `scan`: an rpc leaf on processes and on connectors that searches memory
 * for a byte pattern, text or regular expression (request format in
 * scan-request.ts) and answers {matches: [{address, length, context,
 * contextAddress}], truncated, scannedBytes, unreadableBytes, ms}.
 * Progress: while a scan runs, reading the leaf shows each call's fraction
 * done and its match count (see rpc-progress.ts); the reply itself is one
 * message when the scan ends.
 */
import { definePlugin } from '../plugin-api.js'
import type { PluginContext } from '../plugin-api.js'
import { clipRanges, readableRuns } from './memory-runs.js'
import { parseScanRequest } from './scan-request.js'

export interface ScanMatch {
  readonly address: bigint
  readonly length: number
  /** Hex of the bytes around the match (up to `context` bytes each side, within readable memory). */
  readonly context: string
  readonly contextAddress: bigint
}

export interface ScanResult {
  readonly matches: ScanMatch[]
  readonly truncated: boolean
  readonly scannedBytes: bigint
  readonly unreadableBytes: bigint
  readonly ms: number
  /** The caller cancelled: the matches are those found until then. */
  readonly cancelled?: boolean
}

export async function scanMemory(ctx: PluginContext, request: unknown): Promise<ScanResult> {
  const started = performance.now()
  const { matcher, maxResults, start, end, contextBytes } = parseScanRequest(request)
  const ranges = clipRanges(await ctx.ranges(), start, end)
  const matches: ScanMatch[] = []
  const seen = new Set<bigint>()
  let unreadable = 0n
  let scanned = 0n
  let carry: { addr: bigint; data: Uint8Array } | undefined
  const onHole = (_addr: bigint, length: number): void => { unreadable += BigInt(length) }
  for await (const run of readableRuns(ctx, ranges, { signal: ctx.signal, onHole })) {
    ctx.progress(run.totalBytes === 0n ? 1 : Number(run.doneBytes) / Number(run.totalBytes), `${matches.length} matches`)
    if (run.data.length === 0) continue
    scanned += BigInt(run.data.length)
    const joined = carry !== undefined && carry.addr + BigInt(carry.data.length) === run.addr
    const base = joined && carry !== undefined ? carry.addr : run.addr
    const data = joined && carry !== undefined ? Buffer.concat([carry.data, run.data]) : run.data
    for (const found of matcher.find(data)) {
      const address = base + BigInt(found.offset)
      if (seen.has(address)) continue
      seen.add(address)
      const from = Math.max(0, found.offset - contextBytes)
      const to = Math.min(data.length, found.offset + found.length + contextBytes)
      matches.push({ address, length: found.length, context: Buffer.from(data.subarray(from, to)).toString('hex'), contextAddress: base + BigInt(from) })
      if (matches.length >= maxResults) {
        return { matches, truncated: true, scannedBytes: scanned, unreadableBytes: unreadable, ms: Math.round(performance.now() - started) }
      }
    }
    const keep = Math.min(data.length, matcher.overlap + contextBytes)
    carry = keep === 0 ? undefined : { addr: base + BigInt(data.length - keep), data: data.slice(data.length - keep) }
  }
  if (ctx.signal.aborted) return { matches, truncated: false, scannedBytes: scanned, unreadableBytes: unreadable, ms: Math.round(performance.now() - started), cancelled: true }
  ctx.progress(1, `${matches.length} matches`)
  return { matches, truncated: false, scannedBytes: scanned, unreadableBytes: unreadable, ms: Math.round(performance.now() - started) }
}

const SCAN_HELP = [
  "scan: call with a hex string ('4d5a??00') or {pattern, type?: 'hex'|'text'|'regex', maxResults?: 100, range?: {start, end}, context?: 16}",
  'answers {matches: [{address, length, context (hex), contextAddress}], truncated, scannedBytes, unreadableBytes, ms}',
].join('\n')

export const scanProcessPlugin = definePlugin({
  name: 'scan',
  version: '1.0.0',
  attachesTo: 'process',
  description: "search a process's readable memory for bytes, text or a regular expression",
  leaves: { scan: { description: SCAN_HELP, rpc: (ctx, request) => scanMemory(ctx, request) } },
})

export const scanConnectorPlugin = definePlugin({
  name: 'scan-connector',
  version: '1.0.0',
  attachesTo: 'connector',
  description: "search a connector's physical memory for bytes, text or a regular expression",
  leaves: { scan: { description: SCAN_HELP, rpc: (ctx, request) => scanMemory(ctx, request) } },
})
