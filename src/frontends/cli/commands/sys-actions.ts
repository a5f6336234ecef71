/**
 * `sys [info|handles|NAME]`: the node's own leaves under sys/ — info as
 * "key: value" lines, handles as a table, anything else as its JSON
 * (sys-command.ts defines the command and loads this file when it runs).
 */
import { readJson } from '../leaf-io.js'
import { isRecord } from '../../../errors/index.js'
import type { Output } from '../output.js'
import type { GlobalOptions } from '../globals.js'
import { withClient } from '../session.js'

export async function sysCommand(globals: GlobalOptions, leaf: string): Promise<void> {
  await withClient(globals, async ({ client, out }) => {
    const value = await readJson(client, `sys/${leaf}`)
    if (out.json) out.jsonValue(value)
    else if (leaf === 'handles' && Array.isArray(value)) printHandles(out, value)
    else if (isRecord(value)) printRecord(out, value)
    else out.jsonValue(value)
  })
}

function printRecord(out: Output, record: Record<string, unknown>): void {
  const width = Math.max(...Object.keys(record).map((k) => k.length)) + 1
  for (const [key, value] of Object.entries(record)) {
    const text = Array.isArray(value) ? value.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(', ') || '(none)'
      : typeof value === 'string' ? value : JSON.stringify(value)
    out.line(`${`${key}:`.padEnd(width)} ${text}`)
  }
}

function printHandles(out: Output, handles: unknown[]): void {
  if (handles.length === 0) { out.line('no open handles'); return }
  out.table(['HANDLE', 'PATH', 'CHAIN', 'REFS', 'STALE', 'OPENED'], handles.filter(isRecord).map((h) => [
    String(h.handle),
    String(h.path),
    // A handle through peers: the peer handles it forwards to, hop by hop (b#17 → c#4).
    Array.isArray(h.chain) ? h.chain.map(String).join(' → ') : '',
    isRecord(h.refs) ? Object.entries(h.refs).map(([owner, count]) => `${owner}:${String(count)}`).join(' ') : '',
    h.stale === true ? 'stale' : '',
    typeof h.openedAt === 'string' ? h.openedAt : '',
  ]))
}
