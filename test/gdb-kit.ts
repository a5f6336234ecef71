/**
 * The real gdb in tests: finding it (gdb-multiarch for AArch64 targets),
 * one batch session over a program (and a core, or a `target remote`
 * command), and `memweave gdbserver` started as a child that says where it
 * listens.
 */
import { execFile } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { spawnCli } from './cli-kit.js'

export type GdbTarget = 'x86_64' | 'aarch64'

const CANDIDATES: Readonly<Record<GdbTarget, readonly string[]>> = {
  x86_64: ['/usr/bin/gdb', '/bin/gdb'],
  aarch64: ['/usr/bin/gdb-multiarch'],
}

/** The gdb that reads the target's programs and cores, or undefined when it is not installed. */
export function gdbPath(target: GdbTarget = 'x86_64'): string | undefined {
  return CANDIDATES[target].find((p) => existsSync(p))
}

/** A skip reason when that gdb is missing, else false. */
export function gdbMissing(target: GdbTarget = 'x86_64'): string | false {
  return gdbPath(target) === undefined ? `${target === 'aarch64' ? 'gdb-multiarch' : 'gdb'} is not installed (scripts/setup.sh installs it)` : false
}

/**
 * gdb's whole output (stdout, then stderr) for `gdb -batch -nx -ex CMD… PROGRAM [-c CORE]`. A command that fails in
 * batch mode makes gdb exit 1, which is an answer here (the test reads the output), not an error.
 */
export function gdbBatch(program: string, commands: readonly string[], options: { readonly core?: string; readonly target?: GdbTarget } = {}): Promise<string> {
  const args = ['-batch', '-nx', ...commands.flatMap((c) => ['-ex', c]), program, ...(options.core === undefined ? [] : ['-c', options.core])]
  return new Promise((resolve) => {
    execFile(gdbPath(options.target) ?? 'gdb', args, { maxBuffer: 16 << 20, timeout: 120_000 }, (_err, stdout, stderr) => resolve(`${stdout}\n${stderr}`))
  })
}

export interface Stub {
  readonly child: ChildProcess
  /** host:port, as `target remote` takes it. */
  readonly address: string
  readonly exited: Promise<[number | null]>
  stderr(): string
}

/** `memweave --json ARGS…` (a gdbserver command), once it printed where it listens; killed if it never does within 120 s. */
export async function startStub(args: readonly string[]): Promise<Stub> {
  const child = spawnCli(['--json', ...args])
  let stdout = ''
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8') })
  const exited = once(child, 'exit') as Promise<[number | null]>
  const address = await new Promise<string>((resolve, reject) => {
    const killer = setTimeout(() => child.kill('SIGKILL'), 120_000)
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8')
      const line = /^\{.*"listening".*\}$/m.exec(stdout)?.[0]
      if (line !== undefined) { clearTimeout(killer); resolve((JSON.parse(line) as { listening: string }).listening) }
    })
    exited.then(([code]) => reject(new Error(`gdbserver exited with ${code}: ${stderr}`)), reject)
  })
  return { child, address, exited, stderr: () => stderr }
}
