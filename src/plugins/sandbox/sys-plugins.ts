/**
 * sys/plugins/: control leaves to load and remove user plugins, and a JSON
 * list of every plugin (built-in and user, with state, pid, restarts and
 * the last exit). The CLI's `plugin load|rm|ls` write and read these.
 *
 *   sys/plugins/load   write "PATH [timeout_ms=N] [heap_mb=N] [rss_mb=N]"
 *   sys/plugins/rm     write "NAME"
 *   sys/plugins/list   JSON
 */
import { MemweaveError } from '../../errors/index.js'
import { controlLeaf, jsonLeaf, staticBranch } from '../../tree/index.js'
import type { Branch, Lifetime } from '../../tree/index.js'
import type { LoadOptions, PluginHost } from './plugin-host.js'

const LOAD_USAGE = [
  'write a line: PATH [timeout_ms=N] [heap_mb=N] [rss_mb=N]',
  '  PATH: an absolute path on the daemon host to a plugin (.mjs/.js ES module, or .ts with esbuild)',
  '  the plugin runs sandboxed: unprivileged user, no network, reads only its own file, no writes, no processes',
].join('\n')

const OPTION_KEYS: Readonly<Record<string, keyof LoadOptions>> = { timeout_ms: 'callTimeoutMs', heap_mb: 'heapLimitMb', rss_mb: 'rssLimitMb' }

/** Splits a load line into the path and trailing key=value options. */
export function parseLoadLine(line: string): { path: string; options: LoadOptions } {
  const words = line.trim().split(/\s+/)
  const options: { -readonly [K in keyof LoadOptions]: LoadOptions[K] } = {}
  while (words.length > 1) {
    const match = /^([a-z_]+)=([0-9]+)$/.exec(words[words.length - 1] ?? '')
    if (match === null) break
    const key = OPTION_KEYS[match[1] ?? '']
    if (key === undefined) throw new MemweaveError('plugin', 'invalid_argument', `unknown load option '${match[1] ?? ''}' (options: ${Object.keys(OPTION_KEYS).join(', ')})`)
    const value = Number(match[2])
    if (!Number.isSafeInteger(value) || value <= 0) throw new MemweaveError('plugin', 'invalid_argument', `${match[1] ?? ''} must be a positive integer`)
    options[key] = value
    words.pop()
  }
  const path = words.join(' ')
  if (path === '') throw new MemweaveError('plugin', 'invalid_argument', 'load needs the path of a plugin file')
  return { path, options }
}

export function pluginsSysBranch(host: PluginHost, lifetime: Lifetime): Branch {
  return staticBranch({
    load: controlLeaf({
      identity: 'control:sys/plugins/load', lifetime, usage: LOAD_USAGE,
      run: async (line) => {
        const { path, options } = parseLoadLine(line)
        const summary = await host.load(path, options)
        return `plugin '${summary.name}' ${summary.version} loaded: ${summary.leaves.join(', ')} on ${summary.attachesTo} objects (pid ${summary.pid ?? '?'})`
      },
    }),
    rm: controlLeaf({
      identity: 'control:sys/plugins/rm', lifetime, usage: 'write a line: NAME (a user plugin; see sys/plugins/list)',
      run: async (line) => {
        const name = line.trim()
        if (name === '') throw new MemweaveError('plugin', 'invalid_argument', 'rm needs a plugin name')
        await host.remove(name)
        return `plugin '${name}' removed`
      },
    }),
    list: jsonLeaf('sys:plugins/list', lifetime, () => host.list()),
  }, lifetime)
}
