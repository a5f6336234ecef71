/**
 * Plugin benchmark: the same plugin leaves read through the built-in path
 * (handlers in the daemon) and through a sandboxed user plugin (a separate
 * process; every memory read is a callback over the pipe), in one run, on
 * this benchmark's own process (native OS). Each read is open + read +
 * close of a leaf generated per open:
 *   tiny    a constant string: the round trip alone
 *   mem-4k  4 KiB of process memory: one callback
 *   mem-1m  1 MiB of process memory: one callback, the bytes cross the pipe twice
 * Rows give the user-plugin figure with the built-in one as its ceiling.
 *
 *   node --import tsx bench/plugin.bench.ts [--quick]
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { pino } from 'pino'
import { CONNECTOR_MAPPINGS } from '../src/connectors/index.js'
import { LocalTreeClient } from '../src/net/index.js'
import { MemweaveNode } from '../src/node/index.js'
import { OS_MAPPINGS } from '../src/os/index.js'
import { nativeOsKind } from '../src/os/native/index.js'
import { BUILTIN_PLUGIN_MAPPINGS, InProcessBackend, loadUserPlugin, pluginMappings } from '../src/plugins/index.js'
import type { PluginDefinition } from '../src/plugins/index.js'
import { emit, machine, row } from './bench-report.js'
import type { BenchRow } from './bench-report.js'

const QUICK = process.argv.includes('--quick')

const PLUGIN_SOURCE = `
async function largest(ctx) {
  const ranges = await ctx.ranges()
  return ranges.filter((r) => r.perms.startsWith('rw')).sort((a, b) => Number((b.end - b.start) - (a.end - a.start)))[0]
}
async function mem(ctx, length) {
  const range = await largest(ctx)
  const [result] = await ctx.read([{ addr: range.start, length }])
  if (!result.ok) throw new Error(result.error.message)
  return result.data
}
export const plugin = {
  name: 'NAME', version: '1', attachesTo: 'process', filter: { name: 'node' },
  leaves: {
    'PREFIX-tiny': { read: () => 'x' },
    'PREFIX-mem-4k': { read: (ctx) => mem(ctx, 4096) },
    'PREFIX-mem-1m': { read: (ctx) => mem(ctx, 1 << 20) },
  },
}
`

function isDefinition(value: unknown): value is PluginDefinition {
  return typeof value === 'object' && value !== null && 'name' in value && 'leaves' in value
}

async function timeReads(client: LocalTreeClient, path: string, iterations: number, bytes: number): Promise<{ usPerRead: number; mbPerSecond: number }> {
  const once = async (): Promise<void> => {
    const opened = await client.open(path)
    const [result] = await client.read(opened.handle, [{ addr: 0n, length: bytes }])
    await client.close(opened.handle)
    if (result === undefined || !result.ok || result.data.length !== bytes) throw new Error(`${path}: ${result?.ok === false ? result.error.message : 'short read'}`)
  }
  for (let i = 0; i < Math.min(20, iterations); i++) await once()
  const started = performance.now()
  for (let i = 0; i < iterations; i++) await once()
  const seconds = (performance.now() - started) / 1000
  return { usPerRead: (seconds * 1e6) / iterations, mbPerSecond: (bytes * iterations) / seconds / 1e6 }
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'mw-plugin-bench-'))
  const userFile = join(dir, 'bench-user.mjs')
  const builtinFile = join(dir, 'bench-builtin.mjs')
  await writeFile(userFile, PLUGIN_SOURCE.replace('NAME', 'bench-user').replaceAll('PREFIX', 'user'))
  await writeFile(builtinFile, PLUGIN_SOURCE.replace('NAME', 'bench-builtin').replaceAll('PREFIX', 'builtin'))
  const imported: unknown = await import(pathToFileURL(builtinFile).href)
  const definition = typeof imported === 'object' && imported !== null && 'plugin' in imported ? imported.plugin : undefined
  if (!isDefinition(definition)) throw new Error('bench plugin did not load')
  const node = new MemweaveNode({
    allowWrite: false, log: pino({ level: 'warn' }), connectorKinds: [], osKinds: [nativeOsKind],
    mappings: [...CONNECTOR_MAPPINGS, ...OS_MAPPINGS.filter((m) => m.name !== 'environ'), ...BUILTIN_PLUGIN_MAPPINGS, ...pluginMappings(new InProcessBackend(definition))],
  })
  const client = new LocalTreeClient(node.tree)
  const rows: BenchRow[] = []
  const notes: string[] = []
  try {
    await node.newOs('host native')
    const base = `os/host/processes/by-pid/${process.pid}`
    const sandboxed = process.getuid?.() === 0
    if (sandboxed) await loadUserPlugin(node, userFile)
    else notes.push('not root: the sandboxed user plugin was not measured')
    const cases: [string, number, number][] = [['tiny', 1, QUICK ? 200 : 1000], ['mem-4k', 4096, QUICK ? 200 : 1000], ['mem-1m', 1 << 20, QUICK ? 20 : 100]]
    for (const [leaf, bytes, iterations] of cases) {
      const builtin = await timeReads(client, `${base}/builtin-${leaf}`, iterations, bytes)
      if (!sandboxed) {
        rows.push(row(`built-in ${leaf}: open+read+close`, builtin.usPerRead, 'µs'))
        continue
      }
      const user = await timeReads(client, `${base}/user-${leaf}`, iterations, bytes)
      rows.push(row(`user plugin ${leaf}: open+read+close`, user.usPerRead, 'µs', { what: 'built-in plugin, same leaf', value: builtin.usPerRead }))
      if (bytes >= 1 << 20) {
        rows.push(row(`user plugin ${leaf}: throughput`, user.mbPerSecond, 'MB/s', { what: 'built-in plugin, same leaf', value: builtin.mbPerSecond }, '>= 0.25 of built-in'))
      }
    }
  } finally {
    await client.disconnect()
    await node.close()
    await rm(dir, { recursive: true, force: true })
  }
  emit({
    bench: 'plugin',
    description: 'reads through a sandboxed user plugin vs the same leaf as a built-in plugin (open+read+close per read, native OS, own process)',
    rows,
    notes: [...notes, `machine: ${JSON.stringify(machine())}`],
  })
}

await main()
