/**
 * Helpers for the tests that attach to a live fixture guest
 * (scripts/fixtures/run-guest.sh): boot and stop, the serial shell, the
 * truth patterns, and a scan of guest RAM for a byte pattern.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { createConnection } from 'node:net'
import type { Socket } from 'node:net'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import type { Connector, ConnectorKind } from '../src/connectors/index.js'
import { physAddr } from '../src/mem/index.js'
import type { PhysAddr, PhysicalMemory } from '../src/mem/index.js'
import { Lifetime, parseKindArgs } from '../src/tree/index.js'
import { fixtureRoot, silentLog } from './linux-kit.js'

const run = promisify(execFile)
const SCRIPTS = resolve(import.meta.dirname, '..', 'scripts', 'fixtures')
const POLL_MS = 100
const POLL_TRIES = 150

export { silentLog }

export interface GuestRun {
  readonly name: string
  readonly pid: number
  readonly runDir: string
  readonly qmpSocket: string
  readonly consoleSocket: string
  readonly truth: string
  readonly memPath: string | null
  readonly ramBytes: number
}

export interface TruthPattern {
  readonly pid: number
  readonly address: string
  readonly tag: string
  readonly kind: string
  readonly bytes: string
}

/** Why live-guest tests cannot run here, or false. */
export function liveGuestSkipReason(): string | false {
  if (process.env['MEMWEAVE_SKIP_LIVE'] === '1') return 'MEMWEAVE_SKIP_LIVE=1'
  if (process.getuid?.() !== 0) return 'needs root: reading another process\'s /proc/PID/mem'
  const cache = fixtureRoot()
  if (!existsSync(join(cache, 'default-release'))) return `no guest fixtures in ${cache} (run: bash scripts/fixtures/build-guests.sh)`
  return false
}

/** Boots a fixture guest (run-guest.sh RELEASE ARGS…; the default kernel unless a release is named) and waits until it is ready. */
export async function startGuest(extraArgs: readonly string[] = [], release = 'default'): Promise<GuestRun> {
  const { stdout } = await run('bash', [join(SCRIPTS, 'run-guest.sh'), release, ...extraArgs], { maxBuffer: 1 << 20 })
  return JSON.parse(stdout) as GuestRun
}

/** Stops the guest and removes its run directory (kept with MEMWEAVE_KEEP_RUNS=1, for its console log). */
export async function stopGuest(guest: GuestRun | undefined): Promise<void> {
  if (guest === undefined) return
  await run('bash', [join(SCRIPTS, 'stop-guest.sh'), guest.runDir])
  if (process.env['MEMWEAVE_KEEP_RUNS'] !== '1') rmSync(guest.runDir, { recursive: true, force: true })
}

export function truthPatterns(guest: GuestRun): TruthPattern[] {
  return (JSON.parse(readFileSync(guest.truth, 'utf8')) as { patterns: TruthPattern[] }).patterns
}

export function connectorContext(allowWrite = false, name = 'vm'): Parameters<ConnectorKind['create']>[1] {
  return { allowWrite, log: silentLog, parentLifetime: new Lifetime('test'), description: `connector '${name}'` }
}

export function createConnector(kind: ConnectorKind, args: string, allowWrite = false): Promise<Connector> {
  return kind.create(parseKindArgs(args), connectorContext(allowWrite))
}

/** Every address below `limit` where `needle` starts at a multiple of `alignBytes` (patterns are 128-byte aligned). */
export async function scanFor(mem: PhysicalMemory, needle: Uint8Array, limit: bigint, alignBytes = 128): Promise<bigint[]> {
  const chunk = 1 << 20
  const perBatch = 16
  const found: bigint[] = []
  const key = Buffer.from(needle)
  for (let base = 0n; base < limit; base += BigInt(chunk * perBatch)) {
    const pieces: { addr: PhysAddr; length: number }[] = []
    for (let i = 0; i < perBatch && base + BigInt(i * chunk) < limit; i++) pieces.push({ addr: physAddr(base + BigInt(i * chunk)), length: chunk })
    const results = await mem.read(pieces)
    results.forEach((result, i) => {
      assert.ok(result.ok, `scan read at ${pieces[i]?.addr.toString(16)} failed`)
      const data = Buffer.from(result.data.buffer, result.data.byteOffset, result.data.length)
      for (let at = data.indexOf(key); at >= 0; at = data.indexOf(key, at + 1)) {
        if (at % alignBytes === 0) found.push(pieces[i]!.addr + BigInt(at))
      }
    })
  }
  return found
}

export async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < POLL_TRIES; i++) {
    const value = await probe()
    if (value !== undefined) return value
    await new Promise((r) => setTimeout(r, POLL_MS))
  }
  throw new Error(`gave up waiting for ${what}`)
}

/** The guest's serial shell; each command ends with a marker so its output is known complete. */
export class GuestShell {
  private buffer = ''
  private serial = 0
  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => { this.buffer += chunk })
  }

  static async connect(path: string): Promise<GuestShell> {
    const socket = createConnection(path)
    await new Promise<void>((ok, fail) => { socket.once('connect', ok); socket.once('error', fail) })
    return new GuestShell(socket)
  }

  async run(command: string): Promise<string> {
    const marker = `MW-DONE-${++this.serial}`
    this.buffer = ''
    // On its own line, so a command may end in '&'.
    this.socket.write(`${command}\necho ${marker}\n`)
    for (let i = 0; i < POLL_TRIES && !this.buffer.includes(marker); i++) await new Promise((r) => setTimeout(r, POLL_MS))
    assert.ok(this.buffer.includes(marker), `guest shell did not finish '${command}'`)
    return this.buffer.slice(0, this.buffer.indexOf(marker)).replaceAll('\r', '')
  }

  close(): void {
    this.socket.destroy()
  }
}

/** Bytes printed by `od -An -tx1 -v` as one array. */
export function parseOd(text: string): Uint8Array {
  const hex = text.split('\n').filter((l) => /^(\s+[0-9a-f]{2})+\s*$/.test(l)).join(' ').trim().split(/\s+/).filter((t) => t.length > 0)
  return Uint8Array.from(hex.map((h) => parseInt(h, 16)))
}
