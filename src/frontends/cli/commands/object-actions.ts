/**
 * What `connector|os new|rm|ls` do (object-commands.ts defines them and
 * loads this file when one runs).
 */
import type { TreeClient } from '../../../net/client.js'
import { createLine, quoteWord } from '../control-lines.js'
import { callRpc, readJson } from '../leaf-io.js'
import { isRecord } from '../../../errors/index.js'
import { formatSize, sizeFromJson } from '../numbers.js'
import type { GlobalOptions } from '../globals.js'
import { withClient } from '../session.js'
import type { What } from './object-commands.js'

/** Info keys shown in their own columns (or not at all) rather than in DETAILS. */
const COLUMN_KEYS = new Set(['name', 'kind', 'size', 'sizeBytes', 'stats', 'args'])
const DETAILS_WIDTH = 72

export async function newCommand(globals: GlobalOptions, what: What, name: string, spec: string, on: string | undefined): Promise<void> {
  const line = createLine(name, on, spec)
  await runControl(globals, `${what}/new`, line)
}

export async function rmCommand(globals: GlobalOptions, what: What, name: string, force: boolean): Promise<void> {
  await runControl(globals, `${what}/rm`, `${quoteWord(name)}${force ? ' -f' : ''}`)
}

export async function lsCommand(globals: GlobalOptions, what: What): Promise<void> {
  await withClient(globals, async ({ client, out }) => {
    const items = await listObjects(client, what)
    if (out.json) { out.jsonValue(items.map((i) => ({ name: i.name, info: i.info, error: i.error }))); return }
    if (items.length === 0) { out.line(`no ${what === 'os' ? 'OSs' : 'connectors'} (create one with 'memweave ${what} new')`); return }
    out.table(['NAME', 'KIND', ...(what === 'connector' ? ['SIZE'] : []), 'DETAILS'], items.map((item) => [
      item.name,
      typeof item.info.kind === 'string' ? item.info.kind : '?',
      ...(what === 'connector' ? [formatSize(sizeFromJson(item.info.sizeBytes ?? item.info.size))] : []),
      item.error === undefined ? summary(item.info) : `(info: ${item.error})`,
    ]))
  })
}

async function runControl(globals: GlobalOptions, leaf: string, line: string): Promise<void> {
  await withClient(globals, async ({ client, out }) => {
    const result = await callRpc(client, leaf, line)
    const message = typeof result === 'string' ? result : JSON.stringify(result)
    if (out.json) out.jsonValue({ ok: true, line, message })
    else out.line(message)
  })
}

interface ListedObject {
  readonly name: string
  readonly info: Record<string, unknown>
  readonly error: string | undefined
}

/** The objects under connector/ or os/ (control leaves skipped), each with its parsed info leaf. */
export async function listObjects(client: TreeClient, what: What): Promise<ListedObject[]> {
  const entries = (await client.list(what)).filter((e) => e.type === 'branch')
  return Promise.all(entries.map(async (entry): Promise<ListedObject> => {
    try {
      const info = await readJson(client, `${what}/${entry.name}/info`)
      return { name: entry.name, info: isRecord(info) ? info : { value: info }, error: undefined }
    } catch (err) {
      // One broken object (a remote peer that went away) must not hide the others.
      return { name: entry.name, info: {}, error: err instanceof Error ? err.message : String(err) }
    }
  }))
}

/** A short "key=value …" line from the scalar facts of an info record. */
export function summary(info: Record<string, unknown>): string {
  const parts: string[] = []
  if (typeof info.args === 'string' && info.args !== '') parts.push(`args=${info.args}`)
  else if (isRecord(info.args) && typeof info.args.raw === 'string' && info.args.raw !== '') parts.push(`args=${info.args.raw}`)
  for (const [key, value] of Object.entries(info)) {
    if (COLUMN_KEYS.has(key)) continue
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') parts.push(`${key}=${String(value)}`)
    else if (Array.isArray(value)) parts.push(`${key}=[${value.length}]`)
  }
  const text = parts.join(' ')
  return text.length > DETAILS_WIDTH ? `${text.slice(0, DETAILS_WIDTH - 1)}…` : text
}
