/**
 * `plugin load|rm|ls`: load and rm send one line to sys/plugins/{load,rm}
 * (load's path is made absolute here: the daemon reads it on its own host);
 * ls reads sys/plugins/list (plugin-commands.ts defines the commands and
 * loads this file when one runs).
 */
import { resolve } from 'node:path'
import { callRpc, readJson } from '../leaf-io.js'
import { isRecord } from '../../../errors/index.js'
import { cellText } from '../output.js'
import type { GlobalOptions } from '../globals.js'
import { withClient } from '../session.js'
import type { LoadOptions } from './plugin-commands.js'

export async function loadCommand(globals: GlobalOptions, path: string, options: LoadOptions): Promise<void> {
  const extra = ([['timeout_ms', options.timeout], ['heap_mb', options.heap], ['rss_mb', options.rss]] as const)
    .flatMap(([key, value]) => (value === undefined ? [] : [`${key}=${value}`]))
  await withClient(globals, async ({ client, out }) => {
    const message = await callRpc(client, 'sys/plugins/load', [resolve(path), ...extra].join(' '))
    if (out.json) out.jsonValue({ ok: true, message })
    else out.line(String(message))
  })
}

export async function rmCommand(globals: GlobalOptions, name: string): Promise<void> {
  await withClient(globals, async ({ client, out }) => {
    const message = await callRpc(client, 'sys/plugins/rm', name)
    if (out.json) out.jsonValue({ ok: true, message })
    else out.line(String(message))
  })
}

export async function lsCommand(globals: GlobalOptions): Promise<void> {
  await withClient(globals, async ({ client, out }) => {
    const list = await readJson(client, 'sys/plugins/list')
    if (out.json || !Array.isArray(list)) { out.jsonValue(list); return }
    out.table(['NAME', 'VERSION', 'ON', 'FILTER', 'LEAVES', 'STATE'], list.filter(isRecord).map((p) => [
      String(p['name']), String(p['version']), String(p['attachesTo']), JSON.stringify(p['filter'] ?? {}),
      Array.isArray(p['leaves']) ? p['leaves'].map(String).join(' ') : '',
      p['builtin'] === true ? 'built-in' : `${String(p['state'])}${p['lastExit'] === undefined ? '' : ` (${cellText(p['lastExit'])})`}`,
    ]))
  })
}
