/**
 * A PluginContext over bytes in this process, for unit tests of the
 * built-ins: memory at a base address, some pages unreadable, a chosen
 * list of ranges and maps. Reads fail per piece exactly where a hole is.
 */
import { MemweaveError } from '../errors/index.js'
import type { MemoryRange, PluginContext, PluginMapEntry, PluginReadResult, ProcessDescriptor } from './plugin-api.js'

export interface FakeContextOptions {
  /** Address of bytes[0]. */
  readonly base?: bigint
  /** Page numbers (absolute address / 4096) that fail to read. */
  readonly holes?: ReadonlySet<bigint>
  readonly ranges?: readonly MemoryRange[]
  readonly maps?: readonly PluginMapEntry[]
  readonly onProgress?: (fraction: number, note: string | undefined) => void
}

export const FAKE_PROCESS: ProcessDescriptor = { kind: 'process', osName: 'test', osKind: 'test', pid: 7, ppid: 1, name: 'fake', startTime: 1n, features: [] }

export function fakeContext(bytes: Uint8Array, options: FakeContextOptions = {}): PluginContext & { reads: number } {
  const base = options.base ?? 0n
  const end = base + BigInt(bytes.length)
  const holes = options.holes ?? new Set<bigint>()
  const readOne = (addr: bigint, length: number): PluginReadResult => {
    if (addr < base || addr + BigInt(length) > end) return { ok: false, error: new MemweaveError('mem', 'unmapped', `0x${addr.toString(16)} is not mapped`) }
    for (let page = addr / 4096n; page * 4096n < addr + BigInt(length); page++) {
      if (holes.has(page)) return { ok: false, error: new MemweaveError('mem', 'unmapped', `page 0x${(page * 4096n).toString(16)} is a hole`) }
    }
    const start = Number(addr - base)
    return { ok: true, data: bytes.slice(start, start + length) }
  }
  const ctx = {
    reads: 0,
    object: FAKE_PROCESS,
    signal: new AbortController().signal,
    read: async (pieces: readonly { addr: bigint; length: number }[]) => {
      ctx.reads++
      return pieces.map((p) => readOne(p.addr, p.length))
    },
    write: async () => { throw new MemweaveError('plugin', 'permission', 'read-only fake') },
    ranges: async () => [...(options.ranges ?? [{ start: base, end, perms: 'r--p', path: '' }])],
    maps: async () => [...(options.maps ?? [])],
    info: async () => ({}),
    modules: async () => [],
    environ: async () => ({}),
    progress: (fraction: number, note?: string) => options.onProgress?.(fraction, note),
  }
  return ctx
}
