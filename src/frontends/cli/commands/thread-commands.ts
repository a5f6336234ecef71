/**
 * Threads of a process, from os/OS/processes/by-pid/PID/threads/:
 * `threads OS PID` and `registers OS PID [TID]`. Only their definitions:
 * each action loads thread-actions.ts when it runs.
 */
import type { Command } from 'commander'
import { globalsOf } from '../globals.js'

export function addThreadCommands(program: Command): void {
  program.command('threads').description('threads of a process with their state and where their registers came from')
    .argument('<os>').argument('<pid>')
    .action(async (os: string, pid: string, _options: unknown, command: Command) => {
      const { threadsCommand } = await import('./thread-actions.js')
      await threadsCommand(globalsOf(command), os, pid)
    })

  program.command('registers').description("a thread's user registers (TID defaults to the main thread)")
    .argument('<os>').argument('<pid>').argument('[tid]')
    .action(async (os: string, pid: string, tid: string | undefined, _options: unknown, command: Command) => {
      const { registersCommand } = await import('./thread-actions.js')
      await registersCommand(globalsOf(command), os, pid, tid)
    })
}
