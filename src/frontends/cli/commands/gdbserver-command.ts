/**
 * `memweave gdbserver PATH --listen 127.0.0.1:PORT`: serves one process
 * branch of the tree to gdb's `target remote`. Only its definition: the
 * action loads gdbserver-actions.ts (and the gdb frontend) when it runs.
 */
import type { Command } from 'commander'
import { globalsOf } from '../globals.js'

export function addGdbserverCommand(program: Command): void {
  program.command('gdbserver').description("serve a process to gdb's remote protocol (target remote HOST:PORT)")
    .argument('<path>', 'a process branch, e.g. os/guest/processes/by-pid/97')
    .option('--listen <host:port>', 'loopback address to listen on (port 0 picks one)', '127.0.0.1:0')
    .action(async (path: string, options: { listen: string }, command: Command) => {
      const { gdbserverCommand } = await import('./gdbserver-actions.js')
      await gdbserverCommand(globalsOf(command), path, options.listen)
    })
}
