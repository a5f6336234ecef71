/**
 * Commands on any path of the tree: ls, stat, cat, read, write, rpc. Only
 * their definitions: each action loads tree-actions.ts when it runs.
 */
import type { Command } from 'commander'
import { globalsOf } from '../globals.js'
import { formatSize } from '../numbers.js'

/** Most bytes `read` and `write` move in one command; cat and dump stream without a limit. */
export const MAX_RANGE_BYTES = 64 * 1024 * 1024

export interface ListOptions { long?: boolean; human?: boolean }
export interface ReadOptions { offset: string; length: string; hex?: boolean; out?: string }
export interface WriteOptions { offset: string; hex?: string; in?: string; string?: string }

export function addTreeCommands(program: Command): void {
  const actions = (): Promise<typeof import('./tree-actions.js')> => import('./tree-actions.js')

  program.command('ls').description('list a branch (the root by default)')
    .argument('[path]', 'branch to list', '')
    .option('-l, --long', 'a table with type, size, flags (r read, w write, x rpc) and content')
    .option('-H, --human', 'sizes as KiB/MiB in the long listing')
    .action(async (path: string, options: ListOptions, command: Command) => {
      await (await actions()).listCommand(globalsOf(command), path, options)
    })

  program.command('stat').description('type, size and flags of one path')
    .argument('<path>')
    .action(async (path: string, _options: unknown, command: Command) => {
      await (await actions()).statCommand(globalsOf(command), path)
    })

  program.command('cat').description('copy a leaf to stdout (to its size, or to the end of its data)')
    .argument('<path>')
    .action(async (path: string, _options: unknown, command: Command) => {
      await (await actions()).catCommand(globalsOf(command), path)
    })

  program.command('read').description('read a byte range of a leaf')
    .argument('<path>')
    .option('--offset <n>', 'where to start (decimal or 0x hex)', '0')
    .requiredOption('--length <n>', `how many bytes (at most ${formatSize(MAX_RANGE_BYTES)}; k/m suffixes allowed)`)
    .option('--hex', 'print an xxd-style hex dump; unreadable bytes show as ??')
    .option('--out <file>', 'write the bytes to a file')
    .action(async (path: string, options: ReadOptions, command: Command) => {
      await (await actions()).readCommand(globalsOf(command), path, options)
    })

  program.command('write').description('write bytes into a leaf (memory needs a daemon started with --allow-write)')
    .argument('<path>')
    .option('--offset <n>', 'where to write (decimal or 0x hex)', '0')
    .option('--hex <hex>', 'the bytes as hex ("deadbeef", "de ad be ef")')
    .option('--in <file>', 'the bytes of a file')
    .option('--string <text>', 'the UTF-8 bytes of a string')
    .action(async (path: string, options: WriteOptions, command: Command) => {
      await (await actions()).writeCommand(globalsOf(command), path, options)
    })

  program.command('rpc').description('call a leaf that takes RPCs (x flag) with a JSON request')
    .argument('<path>')
    .argument('[request]', 'the request as JSON (default null)')
    .option('--text', 'send the request as a plain string instead of JSON (control leaves take a command line)')
    .action(async (path: string, request: string | undefined, options: { text?: boolean }, command: Command) => {
      await (await actions()).rpcCommand(globalsOf(command), path, request, options.text === true)
    })
}
