/**
 * `memweave token add NAME --role read [--paths P…]`, `token ls`,
 * `token rm NAME`: the daemon's named tokens, kept hashed in
 * `<state dir>/tokens.json` (0600). They work on the store file directly
 * (run them as the daemon's user); a running daemon sees changes at its
 * next hello. `add` prints the token once; nothing else ever shows it.
 */
import { dirname } from 'node:path'
import type { Command } from 'commander'
import { ensurePrivateDir, stateDirectory, TokenStore } from '../../../net/index.js'
import { Output } from '../output.js'
import { globalsOf } from '../session.js'

function store(): TokenStore {
  return TokenStore.inDirectory(stateDirectory())
}

export function addTokenCommand(program: Command): void {
  const group = program.command('token').description("the daemon's named tokens (roles admin|read, optional path limits)")
  group.command('add').description('make a token and print it once')
    .argument('<name>', 'shown in the audit log and in token ls')
    .option('--role <role>', 'admin or read', 'read')
    .option('--paths <pattern...>', 'limit it to these tree paths (os/g/**, os/*/info)')
    .action(async (name: string, options: { role: string; paths?: string[] }, command: Command) => {
      const out = new Output(globalsOf(command).json === true)
      const tokens = store()
      await ensurePrivateDir(dirname(tokens.file))
      const token = tokens.add(name, options.role, options.paths ?? [])
      if (out.json) out.jsonValue({ name, role: options.role, paths: options.paths ?? null, token, store: tokens.file })
      else out.line(token)
    })
  group.command('ls').description('list the tokens (names, roles, paths; never the tokens)')
    .action((_options: unknown, command: Command) => {
      const out = new Output(globalsOf(command).json === true)
      const list = store().list()
      if (out.json) { out.jsonValue(list); return }
      for (const t of list) out.line(`${t.name}\t${t.role}\t${t.paths?.join(' ') ?? '(all paths)'}\t${t.created}`)
    })
  group.command('rm').description('remove a token (new connections with it are refused at once)')
    .argument('<name>')
    .action((name: string, _options: unknown, command: Command) => {
      store().remove(name)
      new Output(globalsOf(command).json === true).line(`token '${name}' removed`)
    })
}
