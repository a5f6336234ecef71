/**
 * Shared helpers for the plugin tests: a node on the host (native OS,
 * built-in plugins registered), leaf reading to the end (plugin leaves
 * often have no size), a compiled target program that puts a pattern on
 * its heap, an interactive bash with history, and a log collector.
 */
import { spawn } from 'node:child_process'
import type { ChildProcessWithoutNullStreams } from 'node:child_process'
import { existsSync } from 'node:fs'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import type { Logger } from 'pino'
import { CONNECTOR_MAPPINGS } from '../src/connectors/index.js'
import type { ConnectorKind } from '../src/connectors/index.js'
import { MemweaveError } from '../src/errors/index.js'
import { LocalTreeClient } from '../src/net/local-client.js'
import { MemweaveNode } from '../src/node/index.js'
import { OS_MAPPINGS } from '../src/os/index.js'
import type { OsKind } from '../src/os/index.js'
import { nativeOsKind } from '../src/os/native/index.js'
import { BUILTIN_PLUGIN_MAPPINGS } from '../src/plugins/index.js'
import type { Mapping } from '../src/tree/index.js'
import { buildTarget as buildHostTarget } from './host-target.js'
export { isKind } from './error-kit.js'


/**
 * The node's mappings: connectors, the OS tree and the built-in plugins.
 * The OS tree's own `environ` leaf is left out: the environ plugin replaces it
 * (a no-op once os-mappings.ts drops it).
 */
export const PLUGIN_TEST_MAPPINGS: readonly Mapping<never>[] = [
  ...CONNECTOR_MAPPINGS, ...OS_MAPPINGS.filter((m) => m.name !== 'environ'), ...BUILTIN_PLUGIN_MAPPINGS,
]

/** Collects pino's JSON lines so tests can look for containment messages. */
export class LogLines extends Writable {
  readonly lines: Record<string, unknown>[] = []

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    for (const line of chunk.toString().split('\n')) {
      if (line.trim() === '') continue
      const parsed: unknown = JSON.parse(line)
      if (typeof parsed === 'object' && parsed !== null) this.lines.push(Object.fromEntries(Object.entries(parsed)))
    }
    done()
  }

  messages(): string[] {
    return this.lines.map((l) => (typeof l['msg'] === 'string' ? l['msg'] : ''))
  }

  logger(): Logger {
    return pino({ level: 'debug' }, this)
  }
}

export interface TestNode {
  readonly node: MemweaveNode
  readonly client: LocalTreeClient
}

export interface PluginNodeOptions {
  readonly allowWrite?: boolean
  readonly log?: Logger
  readonly connectorKinds?: readonly ConnectorKind[]
  readonly osKinds?: readonly OsKind[]
  /** Create os 'host' (native); default true. */
  readonly hostOs?: boolean
}

export async function pluginNode(options: PluginNodeOptions = {}): Promise<TestNode> {
  const node = new MemweaveNode({
    allowWrite: options.allowWrite ?? false,
    log: options.log ?? pino({ level: 'silent' }),
    connectorKinds: options.connectorKinds ?? [],
    osKinds: options.osKinds ?? [nativeOsKind],
    mappings: PLUGIN_TEST_MAPPINGS,
  })
  if (options.hostOs ?? true) await node.newOs('host native:refresh_ms=50')
  return { node, client: new LocalTreeClient(node.tree) }
}

/** Reads a leaf from 0 to its end (short read), whether or not its size is known. */
export async function readLeaf(client: LocalTreeClient, path: string, chunkBytes = 1 << 20): Promise<Buffer> {
  const opened = await client.open(path)
  try {
    const parts: Buffer[] = []
    for (let at = 0n; ;) {
      const [result] = await client.read(opened.handle, [{ addr: at, length: chunkBytes }])
      if (result === undefined) throw new MemweaveError('tree', 'internal', 'no result')
      if (!result.ok) throw result.error
      parts.push(Buffer.from(result.data))
      at += BigInt(result.data.length)
      if (result.data.length < chunkBytes) return Buffer.concat(parts)
    }
  } finally {
    await client.close(opened.handle)
  }
}

export async function readText(client: LocalTreeClient, path: string): Promise<string> {
  return (await readLeaf(client, path)).toString()
}

export async function callRpc(client: LocalTreeClient, path: string, request: unknown): Promise<unknown> {
  const opened = await client.open(path)
  try {
    return await client.rpc(opened.handle, request)
  } finally {
    await client.close(opened.handle)
  }
}

/** The error reading a leaf fails with (open or read). */
export async function leafError(client: LocalTreeClient, path: string): Promise<MemweaveError> {
  try {
    await readLeaf(client, path)
  } catch (err) {
    if (err instanceof MemweaveError) return err
    throw err
  }
  throw new Error(`reading ${path} succeeded`)
}

export { waitFor } from './wait-for.js'

/** The sandbox needs root (for the network namespace and uid switch) and util-linux. */
export const SANDBOX_SKIP: string | false = process.getuid?.() !== 0
  ? 'the plugin sandbox tests run as root (network namespace, uid switch)'
  : ['/usr/bin/unshare', '/usr/bin/setpriv', '/usr/bin/prlimit'].every((p) => existsSync(p)) ? false : 'util-linux (unshare, setpriv, prlimit) is missing'

export { available, spawnTarget } from './host-target.js'
export type { Target } from './host-target.js'

/** Compiles the heap target program (named mw-plugtarget) into dir. */
export function buildTarget(dir: string): Promise<string> {
  return buildHostTarget(dir, 'mw-plugtarget')
}

/**
 * An interactive bash without a terminal: commands come through a pipe,
 * history is on and HISTFILE goes nowhere, so the history lives only in
 * bash's memory. Resolves once bash has run every command.
 */
export async function bashWithHistory(commands: readonly string[]): Promise<ChildProcessWithoutNullStreams> {
  const child = spawn('bash', ['--norc', '--noprofile', '-i'], { env: { HISTFILE: '/dev/null', PATH: '/usr/bin:/bin', PS1: '' } })
  const marker = `memweave-ready-${process.pid}`
  const ready = new Promise<void>((resolve, reject) => {
    let seen = ''
    child.stdout.on('data', (chunk: Buffer) => {
      seen += chunk.toString()
      if (seen.includes(`${marker}-1-done`)) resolve()
    })
    child.once('error', reject)
    child.once('exit', () => reject(new Error('bash exited early')))
  })
  child.stdin.write(`set -o history\n${commands.join('\n')}\necho ${marker}-$((1))-done\n`)
  await ready
  return child
}
