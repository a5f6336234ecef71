/**
 * `strings` on processes: printable ASCII runs of at least STRINGS_MIN_LENGTH
 * characters in the process's readable mappings, one per line as
 * "0xADDRESS TEXT". Streamed: produced chunk by chunk while the reader
 * reads, never built whole, so the leaf's size is unknown up front.
 */
import { definePlugin } from '../plugin-api.js'
import type { PluginContext } from '../plugin-api.js'
import { readableRuns } from './memory-runs.js'

export const STRINGS_MIN_LENGTH = 6
/** A longer run is cut into lines of this many characters (a page of spaces is not one giant line). */
export const STRINGS_MAX_LINE = 64 * 1024

function isPrintable(byte: number): boolean {
  return (byte >= 0x20 && byte <= 0x7e) || byte === 0x09
}

const decoder = new TextDecoder('latin1')

/** Finds printable runs, carrying an unfinished one across contiguous chunks. */
export class StringFinder {
  private pendingAddr = 0n
  private pending: Uint8Array[] = []
  private pendingLength = 0
  private expectedAddr: bigint | undefined

  constructor(private readonly minLength = STRINGS_MIN_LENGTH) {}

  /** Lines for one readable run. */
  push(addr: bigint, data: Uint8Array): string {
    let out = this.expectedAddr === addr ? '' : this.flush()
    let i = 0
    while (i < data.length) {
      if (!isPrintable(data[i] ?? 0)) {
        if (this.pendingLength > 0) out += this.flush()
        i++
        continue
      }
      const room = STRINGS_MAX_LINE - this.pendingLength
      let j = i
      while (j < data.length && j - i < room && isPrintable(data[j] ?? 0)) j++
      if (this.pendingLength === 0) this.pendingAddr = addr + BigInt(i)
      this.pending.push(data.subarray(i, j))
      this.pendingLength += j - i
      if (this.pendingLength >= STRINGS_MAX_LINE) out += this.flush()
      i = j
    }
    this.expectedAddr = addr + BigInt(data.length)
    return out
  }

  flush(): string {
    const length = this.pendingLength
    const parts = this.pending
    this.pending = []
    this.pendingLength = 0
    if (length < this.minLength) return ''
    const text = parts.map((p) => decoder.decode(p)).join('')
    return `0x${this.pendingAddr.toString(16)} ${text}\n`
  }
}

export async function* processStrings(ctx: PluginContext, minLength = STRINGS_MIN_LENGTH): AsyncGenerator<string> {
  const finder = new StringFinder(minLength)
  for await (const run of readableRuns(ctx, await ctx.ranges(), { signal: ctx.signal })) {
    if (run.data.length === 0) continue
    const lines = finder.push(run.addr, run.data)
    if (lines.length > 0) yield lines
  }
  const last = finder.flush()
  if (last.length > 0) yield last
}

export const stringsPlugin = definePlugin({
  name: 'strings',
  version: '1.0.0',
  attachesTo: 'process',
  description: `printable ASCII strings of at least ${STRINGS_MIN_LENGTH} characters in a process's readable memory`,
  leaves: {
    strings: {
      description: `"0xADDRESS TEXT" per string of >= ${STRINGS_MIN_LENGTH} printable ASCII characters, streamed`,
      read: (ctx) => processStrings(ctx),
    },
  },
})
