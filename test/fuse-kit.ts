/**
 * Shared pieces of the FUSE end-to-end tests: whether FUSE can run here,
 * a node with the file connector (and the native OS when present), a small
 * ELF memory image with a gap and known patterns, and a shell runner.
 *
 * The mount is served by this process's event loop, so it is only ever read
 * by child processes. libfuse 2 opens /dev/fuse without O_CLOEXEC; the
 * runner closes that descriptor in children, so a child never keeps a mount
 * alive (or hangs on it) after this process is gone.
 */
import { execFile, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readdir, readlink } from 'node:fs/promises'
import { pino } from 'pino'
import type { Logger } from 'pino'
import { fileConnectorKind, writeElfCore } from '../src/connectors/file/index.js'
import type { ConnectorKind } from '../src/connectors/index.js'
import { libfuse3Unavailable } from '../src/frontends/fuse/fuse-binding.js'
import type { FuseImplementation } from '../src/frontends/fuse/fuse-binding.js'
import { BUILTIN_CONNECTOR_KINDS, BUILTIN_MAPPINGS, BUILTIN_OS_KINDS, MemweaveNode } from '../src/node/index.js'
import { OS_MAPPINGS } from '../src/os/index.js'
import type { OsKind } from '../src/os/index.js'
import { nativeOsKind } from '../src/os/native/index.js'
import type { Mapping } from '../src/tree/index.js'

/** Why FUSE tests cannot run here, or undefined when they can. */
export function fuseUnavailable(): string | undefined {
  if (!existsSync('/dev/fuse')) return '/dev/fuse is absent (no FUSE in this kernel or container)'
  if (process.getuid?.() !== 0 && !existsSync('/usr/bin/fusermount')) return 'not root and fusermount is not installed'
  return undefined
}

/** The FUSE bindings the tests can mount with here: libfuse3 where its addon is built, and fuse-native. */
export const FUSE_TEST_BINDINGS: readonly FuseImplementation[] = libfuse3Unavailable() === undefined ? ['libfuse3', 'fuse-native'] : ['fuse-native']

export function testLog(): Logger {
  return pino({ level: process.env.MEMWEAVE_TEST_LOG ?? 'silent' })
}

export const PHYS_PATTERN = 'memweave-fuse-phys-pattern-51c2'
export const RANGE_A = { addr: 0n, bytes: 4 << 20 }
export const RANGE_B = { addr: 16n << 20n, bytes: 1 << 20 }
export const PATTERN_AT = RANGE_B.addr + 0x1234n

/** An ELF core with RAM at [0, 4 MiB) and [16 MiB, 17 MiB): the gap between reads as zeros. */
export function memoryImage(): Uint8Array {
  const a = new Uint8Array(RANGE_A.bytes).map((_, i) => (i * 131 + (i >> 12)) & 0xff)
  // High bytes around the pattern, so strings sees it alone.
  const b = new Uint8Array(RANGE_B.bytes).map((_, i) => 0x80 | ((i * 7 + 3) & 0x7f))
  b.set(new TextEncoder().encode(PHYS_PATTERN), Number(PATTERN_AT - RANGE_B.addr))
  return writeElfCore([{ addr: RANGE_A.addr, data: a }, { addr: RANGE_B.addr, data: b }])
}

function uniqueByKind<T extends { kind: string }>(kinds: readonly T[]): T[] {
  return kinds.filter((k, i) => kinds.findIndex((o) => o.kind === k.kind) === i)
}

/** A node with every built-in, plus the file connector and native OS even before builtins.ts lists them. */
export function testNode(options: { allowWrite: boolean; log: Logger; connectorKinds?: readonly ConnectorKind[] }): MemweaveNode {
  const connectorKinds: ConnectorKind[] = uniqueByKind([...BUILTIN_CONNECTOR_KINDS, fileConnectorKind, ...(options.connectorKinds ?? [])])
  const osKinds: OsKind[] = uniqueByKind([...BUILTIN_OS_KINDS, nativeOsKind])
  const mappings: Mapping<never>[] = [...BUILTIN_MAPPINGS, ...OS_MAPPINGS.filter((m) => !BUILTIN_MAPPINGS.some((b) => b === m))]
  return new MemweaveNode({ allowWrite: options.allowWrite, log: options.log, connectorKinds, osKinds, mappings })
}

/** Descriptors of /dev/fuse this process holds (one per mount it serves). */
async function fuseDescriptors(): Promise<number[]> {
  const fds: number[] = []
  for (const name of await readdir('/proc/self/fd')) {
    const target = await readlink(`/proc/self/fd/${name}`).catch((err: unknown) => `gone: ${String(err)}`)
    if (target === '/dev/fuse') fds.push(Number(name))
  }
  return fds
}

export interface ShellResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Runs a bash script in a child process (never in this one: our event loop serves the mount). */
export async function sh(script: string, options: { encoding?: 'utf8' | 'latin1'; timeoutMs?: number } = {}): Promise<ShellResult> {
  const closing = (await fuseDescriptors()).map((fd) => `exec ${fd}<&-`).join('; ')
  return new Promise((resolve) => {
    execFile('bash', ['-c', `${closing}${closing === '' ? '' : '; '}${script}`],
      { encoding: options.encoding ?? 'utf8', maxBuffer: 256 << 20, timeout: options.timeoutMs ?? 60_000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1
        resolve({ code, stdout, stderr })
      })
  })
}

/** Starts a bash script in a child that runs until its stdin closes; resolves once it printed `ready`. */
export async function startShell(script: string): Promise<{ finish: () => Promise<number | null> }> {
  const closing = (await fuseDescriptors()).map((fd) => `exec ${fd}<&-; `).join('')
  const child = spawn('bash', ['-c', `${closing}${script}`], { stdio: ['pipe', 'pipe', 'inherit'] })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => { if (chunk.toString().includes('ready')) resolve() })
    child.once('exit', (code) => reject(new Error(`'${script}' exited with ${code} before it was ready`)))
  })
  return { finish: () => { child.stdin.end(); return exited } }
}

/** Bytes a shell pipeline writes to stdout (e.g. dd of a mem file). */
export async function shBytes(script: string): Promise<Buffer> {
  const result = await sh(script, { encoding: 'latin1' })
  if (result.code !== 0) throw new Error(`'${script}' failed (${result.code}): ${result.stderr}`)
  return Buffer.from(result.stdout, 'latin1')
}

/** Starts test/fuse-mount-child.ts mounting an empty node at `mountpoint`; resolves once mounted. */
export async function childMount(mountpoint: string): Promise<{ pid: number; exited: Promise<number | null>; kill: (signal: NodeJS.Signals) => void }> {
  const script = new URL('./fuse-mount-child.ts', import.meta.url).pathname
  const child = spawn(process.execPath, ['--import', 'tsx', script, mountpoint], { stdio: ['ignore', 'pipe', 'pipe'] })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => { if (chunk.toString().includes('mounted')) resolve() })
    child.once('exit', (code) => reject(new Error(`mount child exited with ${code}: ${stderr}`)))
  })
  return { pid: child.pid ?? -1, exited, kill: (signal) => { child.kill(signal) } }
}
