/**
 * How a plugin process is started. As root:
 *
 *   unshare --net --pid --fork --kill-child     empty network namespace (no interface is up:
 *                                               connect() fails, even to 127.0.0.1), own pid namespace
 *     prlimit --as=N                            address-space cap (runaway allocations fail)
 *      nice -n 10                               below the daemon's priority: a spinning plugin cannot starve it
 *       setpriv --reuid --regid --clear-groups --no-new-privs --pdeathsig KILL   unprivileged user (nobody)
 *         node --experimental-permission --allow-fs-read=<runtime, msgpackr>
 *              --max-old-space-size=N  RUNTIME MSGPACKR
 *
 * The plugin itself is no file the sandbox can read: its bundle (0600, in
 * the daemon's private folder) arrives over the pipe and is imported from
 * memory. Node's permission model then refuses file writes, reads of
 * anything else, child processes, workers and native addons. Not root: a user
 * namespace stands in (unshare --user), and the plugin keeps the daemon's
 * uid outside it (no setpriv), still without network or file access.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { MemweaveError } from '../../errors/index.js'
import type { RuntimeFiles } from './sandbox-files.js'

export interface SandboxLimits {
  /** User and group the plugin runs as (root daemons only); default 65534 (nobody/nogroup). */
  readonly uid: number
  readonly gid: number
  /** V8 heap cap (--max-old-space-size). */
  readonly heapLimitMb: number
  /** Address-space cap (RLIMIT_AS): bounds allocations outside the heap too. */
  readonly addressSpaceLimitMb: number
}

export const DEFAULT_SANDBOX_LIMITS: SandboxLimits = { uid: 65534, gid: 65534, heapLimitMb: 128, addressSpaceLimitMb: 4096 }

export interface LaunchPlan {
  readonly command: string
  readonly args: readonly string[]
  /** Whether the plugin runs as another (unprivileged) user. */
  readonly dropsPrivileges: boolean
}

const TOOL_DIRS = ['/usr/bin', '/bin', '/usr/sbin', '/sbin']

function tool(name: string): string {
  for (const dir of TOOL_DIRS) {
    const path = join(dir, name)
    if (existsSync(path)) return path
  }
  throw new MemweaveError('plugin', 'unsupported', `the plugin sandbox needs '${name}' (Debian package util-linux); it is not in ${TOOL_DIRS.join(', ')}`)
}

export function planLaunch(runtime: RuntimeFiles, limits: SandboxLimits): LaunchPlan {
  const root = process.getuid?.() === 0
  const reads = runtime.readPaths.map((p) => `--allow-fs-read=${p}`)
  const nodeArgs = [
    process.execPath,
    '--experimental-permission', ...reads,
    `--max-old-space-size=${limits.heapLimitMb}`,
    '--disable-warning=ExperimentalWarning',
    runtime.entry, runtime.msgpackr,
  ]
  const setpriv = root
    ? [tool('setpriv'), `--reuid=${limits.uid}`, `--regid=${limits.gid}`, '--clear-groups', '--no-new-privs', '--pdeathsig', 'KILL', '--']
    : [tool('setpriv'), '--no-new-privs', '--pdeathsig', 'KILL', '--']
  const args = [
    ...(root ? [] : ['--user']), '--net', '--pid', '--fork', '--kill-child', '--',
    tool('prlimit'), `--as=${limits.addressSpaceLimitMb * 1024 * 1024}`, '--',
    tool('nice'), '-n', '10',
    ...setpriv,
    ...nodeArgs,
  ]
  return { command: tool('unshare'), args, dropsPrivileges: root }
}
