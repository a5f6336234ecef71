/**
 * Shortcuts over an OS's tree (they only read os/OS/…): `ps` from
 * processes/by-pid/PID/info, `maps`, `modules` (kernel or per process) and
 * `dump`, which copies a process's ELF core to a file with a progress bar.
 * Only their definitions: each action loads os-actions.ts when it runs.
 */
import type { Command } from 'commander'
import { globalsOf } from '../globals.js'

export function addOsCommands(program: Command): void {
  const actions = (): Promise<typeof import('./os-actions.js')> => import('./os-actions.js')

  program.command('ps').description('processes of an OS (from os/OS/processes/by-pid/*/info)')
    .argument('<os>')
    .option('--tree', 'indent children under their parents')
    .action(async (os: string, options: { tree?: boolean }, command: Command) => {
      await (await actions()).psCommand(globalsOf(command), os, options.tree === true)
    })

  program.command('maps').description('memory maps of a process (/proc/PID/maps format)')
    .argument('<os>').argument('<pid>')
    .action(async (os: string, pid: string, _options: unknown, command: Command) => {
      await (await actions()).mapsCommand(globalsOf(command), os, pid)
    })

  program.command('modules').description('kernel modules of an OS, or images mapped in a process')
    .argument('<os>').argument('[pid]')
    .action(async (os: string, pid: string | undefined, _options: unknown, command: Command) => {
      await (await actions()).modulesCommand(globalsOf(command), os, pid)
    })

  program.command('dump').description("write a process's ELF core file (loadable by gdb)")
    .argument('<os>').argument('<pid>')
    .requiredOption('-o, --out <file>', 'where to write the core')
    .action(async (os: string, pid: string, options: { out: string }, command: Command) => {
      await (await actions()).dumpCommand(globalsOf(command), os, pid, options.out)
    })
}
