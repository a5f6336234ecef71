/**
 * `plugin load|rm|ls`: the daemon's user plugins (sys/plugins/). Only their
 * definitions: each action loads plugin-actions.ts when it runs.
 */
import type { Command } from 'commander'
import { globalsOf } from '../globals.js'

export interface LoadOptions { timeout?: string; heap?: string; rss?: string }

export function addPluginCommands(program: Command): void {
  const actions = (): Promise<typeof import('./plugin-actions.js')> => import('./plugin-actions.js')
  const group = program.command('plugin').description('user plugins, run sandboxed by the daemon (sys/plugins/)')
  group.command('load').description('load a plugin file (.mjs/.js or .ts) into the daemon (writes sys/plugins/load)')
    .argument('<path>', 'the plugin module')
    .option('--timeout <ms>', 'per-call timeout (default 5000)')
    .option('--heap <mb>', 'V8 heap cap of the plugin process (default 128)')
    .option('--rss <mb>', 'resident memory cap of the plugin process (default 256)')
    .action(async (path: string, options: LoadOptions, command: Command) => {
      await (await actions()).loadCommand(globalsOf(command), path, options)
    })
  group.command('rm').description('stop and remove a user plugin (writes sys/plugins/rm)')
    .argument('<name>', 'the plugin name from its manifest')
    .action(async (name: string, _options: unknown, command: Command) => {
      await (await actions()).rmCommand(globalsOf(command), name)
    })
  group.command('ls').description('built-in and user plugins (reads sys/plugins/list)')
    .action(async (_options: unknown, command: Command) => {
      await (await actions()).lsCommand(globalsOf(command))
    })
}
