/**
 * `memweave token add|ls|rm`: the daemon's named tokens, kept hashed in
 * `<state dir>/tokens.json`. Only their definitions: each action loads
 * token-actions.ts when it runs.
 */
import type { Command } from 'commander'
import { globalsOf } from '../globals.js'

export function addTokenCommand(program: Command): void {
  const actions = (): Promise<typeof import('./token-actions.js')> => import('./token-actions.js')
  const group = program.command('token').description("the daemon's named tokens (roles admin|read, optional path limits)")
  group.command('add').description('make a token and print it once')
    .argument('<name>', 'shown in the audit log and in token ls')
    .option('--role <role>', 'admin or read', 'read')
    .option('--paths <pattern...>', 'limit it to these tree paths (os/g/**, os/*/info)')
    .action(async (name: string, options: { role: string; paths?: string[] }, command: Command) => {
      await (await actions()).addCommand(globalsOf(command), name, options.role, options.paths)
    })
  group.command('ls').description('list the tokens (names, roles, paths; never the tokens)')
    .action(async (_options: unknown, command: Command) => {
      const { lsCommand } = await actions()
      lsCommand(globalsOf(command))
    })
  group.command('rm').description('remove a token (new connections with it are refused at once)')
    .argument('<name>')
    .action(async (name: string, _options: unknown, command: Command) => {
      const { rmCommand } = await actions()
      rmCommand(globalsOf(command), name)
    })
}
