/**
 * The soak's guests and plugin: a real fixture dump opened as a Linux guest
 * (ps, maps, scan), a live QEMU fixture guest whose processes come and go
 * (booted with the live tests' scripts, a busybox loop starting short-lived
 * `sleep`s), and a user plugin on the dump's connector that can be made to
 * crash. Operations go through a ProtocolClient like any other client's.
 */
import { writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { MemweaveError } from '../src/errors/index.js'
import type { ProtocolClient } from '../src/net/index.js'
import { linuxFixtures } from '../test/linux-kit.js'
import type { LinuxFixture } from '../test/linux-kit.js'
import { GuestShell, startGuest, stopGuest } from '../test/qemu-guest-kit.js'
import type { GuestRun } from '../test/qemu-guest-kit.js'

/** The plugin: ok.txt answers, crash.txt makes its process exit (the supervisor restarts it with backoff). */
export const CRASHY_PLUGIN = [
  "export const plugin = { name: 'soak-crashy', version: '1.0.0', attachesTo: 'connector', filter: { name: 'd' }, leaves: {",
  "  'ok.txt': { read: (ctx) => `connector ${ctx.object.name}\\n` },",
  "  'crash.txt': { read: () => { setTimeout(() => process.exit(3), 10); return new Promise(() => {}) } },",
  '} }',
].join('\n')

export async function writeCrashyPlugin(dir: string): Promise<string> {
  const path = join(dir, 'plugins', 'crashy.mjs')
  await writeFile(path, `${CRASHY_PLUGIN}\n`)
  return path
}

/** The x86-64 fixture dump the soak opens as os 'g' (the default release, with VMCOREINFO). */
export function soakFixture(): LinuxFixture | undefined {
  const all = linuxFixtures().filter((f) => (f.truth.arch ?? 'x86_64') === 'x86_64')
  return all.find((f) => f.variant === 'vmcoreinfo') ?? all[0]
}

export function fixtureRoot(fixture: LinuxFixture): string {
  return dirname(fixture.dump)
}

async function readAll(client: ProtocolClient, path: string): Promise<Uint8Array> {
  const { handle, sizeBytes } = await client.open(path)
  try {
    const [piece] = await client.read(handle, [{ addr: 0n, length: Number(sizeBytes ?? 1n << 20n) || 1 << 20 }])
    if (piece === undefined) throw new MemweaveError('cli', 'internal', `${path}: no result`)
    if (!piece.ok) throw piece.error
    return piece.data
  } finally {
    await client.close(handle).catch(() => undefined)
  }
}

/** `ps` as the CLI does it, for one random process: the pid listing, then that process's info. */
export async function psOne(client: ProtocolClient, os: string, random: () => number): Promise<void> {
  const pids = (await client.list(`os/${os}/processes/by-pid`)).map((e) => e.name)
  const pid = pids[Math.floor(random() * pids.length)]
  if (pid === undefined) throw new MemweaveError('cli', 'internal', `os/${os}: no processes listed`)
  const info = JSON.parse(Buffer.from(await readAll(client, `os/${os}/processes/by-pid/${pid}/info`)).toString('utf8')) as { pid?: number }
  if (info.pid !== Number(pid)) throw new MemweaveError('cli', 'internal', `os/${os}: info of ${pid} says pid ${String(info.pid)}`)
}

/** A process's maps, checked to be /proc/PID/maps lines (a kernel thread's are empty). */
export async function mapsOf(client: ProtocolClient, os: string, pid: number): Promise<void> {
  const text = Buffer.from(await readAll(client, `os/${os}/processes/by-pid/${pid}/maps`)).toString('utf8').replace(/\0+$/, '')
  if (text !== '' && !/^[0-9a-f]+-[0-9a-f]+ [r-][w-][x-][ps] /m.test(text)) throw new MemweaveError('cli', 'internal', `os/${os} pid ${pid}: maps do not parse`)
}

/** The scan rpc over a process's memory for a text the fixture programs hold. */
export async function scanOne(client: ProtocolClient, os: string, pid: number): Promise<void> {
  const { handle } = await client.open(`os/${os}/processes/by-pid/${pid}/scan`)
  try {
    const result = await client.rpc(handle, { pattern: 'mw-', type: 'text', maxResults: 4 }) as { matches?: unknown[] }
    if (!Array.isArray(result.matches)) throw new MemweaveError('cli', 'internal', `scan of ${pid}: no matches array`)
  } finally {
    await client.close(handle).catch(() => undefined)
  }
}

/** A live fixture guest running a loop of short-lived processes, and how to stop it. */
export interface LiveGuest {
  readonly run: GuestRun
  stop(): Promise<void>
}

/** Boots the default fixture guest (TCG here: a minute or more) and starts a loop of `sleep`s that come and go. */
export async function bootLiveGuest(): Promise<LiveGuest> {
  const run = await startGuest()
  const shell = await GuestShell.connect(run.consoleSocket)
  try {
    // Three processes a second, each living a second: the process list changes under every listing.
    await shell.run('(while :; do sleep 1 & sleep 1 & sleep 1; done) >/dev/null 2>&1 &')
  } catch (err) {
    shell.close()
    await stopGuest(run)
    throw err
  }
  return { run, stop: async () => { shell.close(); await stopGuest(run) } }
}
