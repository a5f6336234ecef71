/**
 * Runs the memweave CLI as a user would (a child `node --import tsx
 * src/frontends/cli/main.ts …`), collecting stdout, stderr and the exit
 * code; and starts `memweave serve` on a temporary socket for daemon tests.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url))
export const CLI_MAIN = 'src/frontends/cli/main.ts'
/** A safety net against a hung child, not a timing assertion: generous on a slow machine. */
const KILL_AFTER_MS = 60_000

export interface CliResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  readonly stdoutBytes: Buffer
}

export interface RunOptions {
  readonly env?: Readonly<Record<string, string | undefined>>
  readonly input?: string | Uint8Array
  /** Run bin/memweave.js (the installed command) instead of the TypeScript entry point. */
  readonly viaBin?: boolean
}

/** An environment without the variables that would point the CLI at some other daemon. */
export function cleanEnv(extra: Readonly<Record<string, string | undefined>> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (const key of ['MEMWEAVE_DAEMON', 'MEMWEAVE_TOKEN', 'MEMWEAVE_SOCKET', 'NODE_OPTIONS']) delete env[key]
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key]
    else env[key] = value
  }
  return env
}

/** MEMWEAVE_TEST_VIA_BIN=1 runs every CLI test through bin/memweave.js (the build, or the bundled CLI when fresh). */
const ALWAYS_VIA_BIN = process.env['MEMWEAVE_TEST_VIA_BIN'] === '1'

export function spawnCli(args: readonly string[], options: RunOptions = {}): ChildProcess {
  const command = options.viaBin === true || ALWAYS_VIA_BIN ? ['bin/memweave.js'] : ['--import', 'tsx', CLI_MAIN]
  return spawn(process.execPath, [...command, ...args], {
    cwd: REPO_ROOT, env: cleanEnv(options.env), stdio: ['pipe', 'pipe', 'pipe'],
  })
}

export async function runCli(args: readonly string[], options: RunOptions = {}): Promise<CliResult> {
  const child = spawnCli(args, options)
  const out: Buffer[] = []
  const err: Buffer[] = []
  child.stdout?.on('data', (chunk: Buffer) => out.push(chunk))
  child.stderr?.on('data', (chunk: Buffer) => err.push(chunk))
  child.stdin?.end(options.input ?? '')
  const killer = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS)
  const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null]
  clearTimeout(killer)
  const stdoutBytes = Buffer.concat(out)
  return { code, signal, stdout: stdoutBytes.toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), stdoutBytes }
}

/** Lines of text without the trailing empty one. */
export function lines(text: string): string[] {
  return text.split('\n').filter((line, i, all) => !(line === '' && i === all.length - 1))
}

export interface RunningDaemon {
  readonly child: ChildProcess
  readonly addresses: string[]
  /** What the daemon printed on stdout so far. */
  stdout(): string
  /** Everything the daemon wrote to stderr so far (logs). */
  stderr(): string
  /** Sends a signal and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/** Starts `memweave serve ARGS` and resolves once it printed where it listens (or rejects with its stderr if it exits first). */
export async function startDaemon(args: readonly string[], options: RunOptions = {}): Promise<RunningDaemon> {
  const child = spawnCli(['serve', ...args], options)
  let stdout = ''
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8') })
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
  const wantedListeners = args.filter((a) => a === '--listen').length
  const addresses = await new Promise<string[]>((resolve, reject) => {
    const killer = setTimeout(() => { child.kill('SIGKILL') }, KILL_AFTER_MS)
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8')
      if (!stdout.endsWith('\n')) return
      // Human form: "listening on URL" per address; --json: one {"listening": [...]} line.
      const found = [...stdout.matchAll(/^listening on (\S+)$/gm)].map((m) => m[1] ?? '')
      const json = /^\{"listening":.*$/m.exec(stdout)?.[0]
      const listed = json === undefined ? found : (JSON.parse(json) as { listening: string[] }).listening
      // Each listener prints its own line, possibly in separate chunks: wait for every --listen given.
      if (listed.length > 0 && listed.length >= wantedListeners) { clearTimeout(killer); resolve(listed) }
    })
    exited.then(([code]) => { clearTimeout(killer); reject(new Error(`serve exited with ${code} before listening: ${stderr}`)) }, reject)
  })
  return {
    child,
    addresses,
    stdout: () => stdout,
    stderr: () => stderr,
    stop: async (signal = 'SIGTERM') => {
      child.kill(signal)
      const [code, sig] = await exited
      return { code, signal: sig }
    },
  }
}
