/**
 * `plugin load|rm|ls`: load and rm send one line to sys/plugins/{load,rm}
 * (load's path is made absolute here: the daemon reads it on its own host);
 * ls reads sys/plugins/list.
 */
import { resolve } from 'node:path'
import type { Command } from 'commander'
import { callRpc, readJson } from '../leaf-io.js'
import { isRecord } from '../../../errors/index.js'
import { cellText } from '../output.js'
import { globalsOf, withClient } from '../session.js'

export function addPluginCommands(program: Command): void {
  const group = program.command('plugin').description('user plugins, run sandboxed by the daemon (sys/plugins/)')
  group.command('load').description('load a plugin file (.mjs/.js or .ts) into the daemon (writes sys/plugins/load)')
    .argument('<path>', 'the plugin module')
    .option('--timeout <ms>', 'per-call timeout (default 5000)')
    .option('--heap <mb>', 'V8 heap cap of the plugin process (default 128)')
    .option('--rss <mb>', 'resident memory cap of the plugin process (default 256)')
    .action(async (path: string, options: { timeout?: string; heap?: string; rss?: string }, command: Command) => {
      const extra = ([['timeout_ms', options.timeout], ['heap_mb', options.heap], ['rss_mb', options.rss]] as const)
        .flatMap(([key, value]) => (value === undefined ? [] : [`${key}=${value}`]))
      await withClient(globalsOf(command), async ({ client, out }) => {
        const message = await callRpc(client, 'sys/plugins/load', [resolve(path), ...extra].join(' '))
        if (out.json) out.jsonValue({ ok: true, message })
        else out.line(String(message))
      })
    })
  group.command('rm').description('stop and remove a user plugin (writes sys/plugins/rm)')
    .argument('<name>', 'the plugin name from its manifest')
    .action(async (name: string, _options: unknown, command: Command) => {
      await withClient(globalsOf(command), async ({ client, out }) => {
        const message = await callRpc(client, 'sys/plugins/rm', name)
        if (out.json) out.jsonValue({ ok: true, message })
        else out.line(String(message))
      })
    })
  group.command('ls').description('built-in and user plugins (reads sys/plugins/list)')
    .action(async (_options: unknown, command: Command) => {
      await withClient(globalsOf(command), async ({ client, out }) => {
        const list = await readJson(client, 'sys/plugins/list')
        if (out.json || !Array.isArray(list)) { out.jsonValue(list); return }
        out.table(['NAME', 'VERSION', 'ON', 'FILTER', 'LEAVES', 'STATE'], list.filter(isRecord).map((p) => [
          String(p['name']), String(p['version']), String(p['attachesTo']), JSON.stringify(p['filter'] ?? {}),
          Array.isArray(p['leaves']) ? p['leaves'].map(String).join(' ') : '',
          p['builtin'] === true ? 'built-in' : `${String(p['state'])}${p['lastExit'] === undefined ? '' : ` (${cellText(p['lastExit'])})`}`,
        ]))
      })
    })
}
