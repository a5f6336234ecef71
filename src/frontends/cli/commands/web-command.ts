/**
 * `memweave web [VIEW]`: prints (and opens) a one-time link to the daemon's
 * web page. Only its definition: the action loads web-actions.ts when it runs.
 */
import type { Command } from 'commander'
import { globalsOf } from '../globals.js'

export function addWebCommand(program: Command): void {
  program.command('web')
    .description('print (and open) a one-time link to the daemon\'s web page (serve --web)')
    .argument('[view]', 'a tree path to open, e.g. os/guest/processes, or PATH@ADDRESS for a hex view')
    .option('--no-open', 'only print the link')
    .action(async (view: string | undefined, options: { open?: boolean }, command: Command) => {
      const { webCommand } = await import('./web-actions.js')
      await webCommand(globalsOf(command), view, options.open !== false)
    })
}
