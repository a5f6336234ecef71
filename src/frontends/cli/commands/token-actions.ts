/**
 * `memweave token add NAME --role read [--paths P…]`, `token ls`,
 * `token rm NAME`: the daemon's named tokens, kept hashed in
 * `<state dir>/tokens.json` (0600). They work on the store file directly
 * (run them as the daemon's user); a running daemon sees changes at its
 * next hello. `add` prints the token once; nothing else ever shows it.
 * token-command.ts defines the commands and loads this file when one runs.
 */
import { dirname } from 'node:path'
import { ensurePrivateDir, stateDirectory, TokenStore } from '../../../net/index.js'
import { Output } from '../output.js'
import type { GlobalOptions } from '../globals.js'

function store(): TokenStore {
  return TokenStore.inDirectory(stateDirectory())
}

export async function addCommand(globals: GlobalOptions, name: string, role: string, paths: string[] | undefined): Promise<void> {
  const out = new Output(globals.json === true)
  const tokens = store()
  await ensurePrivateDir(dirname(tokens.file))
  const token = tokens.add(name, role, paths ?? [])
  if (out.json) out.jsonValue({ name, role, paths: paths ?? null, token, store: tokens.file })
  else out.line(token)
}

export function lsCommand(globals: GlobalOptions): void {
  const out = new Output(globals.json === true)
  const list = store().list()
  if (out.json) { out.jsonValue(list); return }
  for (const t of list) out.line(`${t.name}\t${t.role}\t${t.paths?.join(' ') ?? '(all paths)'}\t${t.created}`)
}

export function rmCommand(globals: GlobalOptions, name: string): void {
  store().remove(name)
  new Output(globals.json === true).line(`token '${name}' removed`)
}
