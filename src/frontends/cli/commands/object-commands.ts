/**
 * `connector new|rm|ls` and `os new|rm|ls`: new and rm send one line to the
 * control leaves (connector/new, os/rm, …) as an RPC, so the node's own
 * answer or refusal is what the user sees; ls lists the branch and
 * summarises each object's info leaf. Only their definitions: each action
 * loads object-actions.ts when it runs.
 */
import type { Command } from 'commander'
import { globalsOf } from '../globals.js'

export type What = 'connector' | 'os'

export function addObjectCommands(program: Command): void {
  addGroup(program, 'connector', 'memory sources (connector/)', 'the OS to chain on (a connector inside a guest)')
  addGroup(program, 'os', 'operating systems found in memory (os/)', 'the connector to open the OS on')
}

function addGroup(program: Command, what: What, description: string, onHelp: string): void {
  const actions = (): Promise<typeof import('./object-actions.js')> => import('./object-actions.js')
  const group = program.command(what).description(description)

  const noun = what === 'os' ? 'an OS' : 'a connector'
  group.command('new').description(`create ${noun} (writes ${what}/new)`)
    .argument('<name>')
    .argument('<spec>', 'KIND[:ARGS], e.g. file:/data/vm.elf or linux:kaslr=auto')
    .option('-c, --on <name>', onHelp)
    .action(async (name: string, spec: string, options: { on?: string }, command: Command) => {
      await (await actions()).newCommand(globalsOf(command), what, name, spec, options.on)
    })

  group.command('rm').description(`remove ${noun} (writes ${what}/rm)`)
    .argument('<name>')
    .option('-f, --force', 'remove even with open handles or dependents')
    .action(async (name: string, options: { force?: boolean }, command: Command) => {
      await (await actions()).rmCommand(globalsOf(command), what, name, options.force === true)
    })

  group.command('ls').description(`list ${what === 'os' ? 'OSs' : 'connectors'} with a summary of each info leaf`)
    .action(async (_options: unknown, command: Command) => {
      await (await actions()).lsCommand(globalsOf(command), what)
    })
}
