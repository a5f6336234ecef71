/**
 * `connector new|rm|ls` and `os new|rm|ls`: new and rm send one line to the
 * control leaves (connector/new, os/rm, …) as an RPC, so the node's own
 * answer or refusal is what the user sees; ls lists the branch and
 * summarises each object's info leaf.
 */
import type { Command } from 'commander'
import type { TreeClient } from '../../../net/index.js'
import { createLine, quoteWord } from '../control-lines.js'
import { callRpc, readJson } from '../leaf-io.js'
import { isRecord } from '../../../errors/index.js'
import { formatSize, sizeFromJson } from '../numbers.js'
import { globalsOf, withClient } from '../session.js'

type What = 'connector' | 'os'

/** Info keys shown in their own columns (or not at all) rather than in DETAILS. */
const COLUMN_KEYS = new Set(['name', 'kind', 'size', 'sizeBytes', 'stats', 'args'])
const DETAILS_WIDTH = 72

export function addObjectCommands(program: Command): void {
  addGroup(program, 'connector', 'memory sources (connector/)', 'the OS to chain on (a connector inside a guest)')
  addGroup(program, 'os', 'operating systems found in memory (os/)', 'the connector to open the OS on')
}

function addGroup(program: Command, what: What, description: string, onHelp: string): void {
  const group = program.command(what).description(description)

  const noun = what === 'os' ? 'an OS' : 'a connector'
  group.command('new').description(`create ${noun} (writes ${what}/new)`)
    .argument('<name>')
    .argument('<spec>', 'KIND[:ARGS], e.g. file:/data/vm.elf or linux:kaslr=auto')
    .option('-c, --on <name>', onHelp)
    .action(async (name: string, spec: string, options: { on?: string }, command: Command) => {
      const line = createLine(name, options.on, spec)
      await runControl(command, `${what}/new`, line)
    })

  group.command('rm').description(`remove ${noun} (writes ${what}/rm)`)
    .argument('<name>')
    .option('-f, --force', 'remove even with open handles or dependents')
    .action(async (name: string, options: { force?: boolean }, command: Command) => {
      await runControl(command, `${what}/rm`, `${quoteWord(name)}${options.force === true ? ' -f' : ''}`)
    })

  group.command('ls').description(`list ${what === 'os' ? 'OSs' : 'connectors'} with a summary of each info leaf`)
    .action(async (_options: unknown, command: Command) => {
      await withClient(globalsOf(command), async ({ client, out }) => {
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
    })
}

async function runControl(command: Command, leaf: string, line: string): Promise<void> {
  await withClient(globalsOf(command), async ({ client, out }) => {
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
