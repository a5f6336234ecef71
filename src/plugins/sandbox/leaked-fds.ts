/**
 * File descriptors this process would leak into a child. libuv hands a
 * child only its stdio, but any descriptor opened without O_CLOEXEC stays
 * open across exec — libfuse 2 opens /dev/fuse that way, so a plugin
 * spawned by `serve --fuse` could answer or snoop the mount's requests.
 * The launch closes these first (see closingLaunch).
 */
import { readdirSync, readFileSync } from 'node:fs'

const O_CLOEXEC = 0o2000000

/** Descriptors ≥ 4 (the child's stdio and plugin pipe are 0–3) without O_CLOEXEC. */
export function inheritableFds(): number[] {
  const out: number[] = []
  let entries: string[]
  try {
    entries = readdirSync('/proc/self/fd')
  } catch {
    return out // no /proc: nothing we can check; the sandbox's other walls still stand
  }
  for (const entry of entries) {
    const fd = Number(entry)
    if (!Number.isInteger(fd) || fd < 4) continue
    try {
      const flags = /^flags:\s*([0-7]+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1]
      if (flags !== undefined && (Number.parseInt(flags, 8) & O_CLOEXEC) === 0) out.push(fd)
    } catch {
      // Closed between listing and reading (the listing's own descriptor): nothing to leak.
    }
  }
  return out
}

/** Wraps a command so the given descriptors are closed before it runs, with an empty environment as before (exec -c: bash would otherwise add PWD and SHLVL). bash, since dash takes single-digit fds only. */
export function closingLaunch(command: string, args: readonly string[], fds: readonly number[]): { command: string; args: string[] } {
  if (fds.length === 0) return { command, args: [...args] }
  const closes = fds.map((fd) => `exec ${fd}<&-`).join('; ')
  return { command: '/bin/bash', args: ['-c', `${closes}; exec -c "$@"`, 'memweave-plugin', command, ...args] }
}
