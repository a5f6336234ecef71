/**
 * `sys [info|handles|NAME]`: the node's own leaves under sys/. Only its
 * definition: the action loads sys-actions.ts when it runs.
 */
import type { Command } from 'commander'
import { globalsOf } from '../globals.js'

export function addSysCommand(program: Command): void {
  program.command('sys').description('node facts: sys/info (default), sys/handles, or another sys/ leaf')
    .argument('[leaf]', 'info, handles, mappings, …', 'info')
    .action(async (leaf: string, _options: unknown, command: Command) => {
      const { sysCommand } = await import('./sys-actions.js')
      await sysCommand(globalsOf(command), leaf)
    })
}
