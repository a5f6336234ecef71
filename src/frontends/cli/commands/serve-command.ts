/**
 * `memweave serve`: run a daemon serving the tree. Only its definition: the
 * action loads serve-actions.ts (and with it the node) when it runs.
 */
import type { Command } from 'commander'
import { collect, globalsOf } from '../globals.js'
import { addConnectOption } from './peer-commands.js'

export interface ServeOptions {
  listen?: string[]
  tlsCert?: string
  tlsKey?: string
  connect?: string[]
  fuse?: string
  fuseReadOnly?: boolean
  memoryBudget?: string
  limit?: string[]
  allowOrigin?: string[]
  fileRoot?: string[]
  pluginRoot?: string[]
  socketGroup?: string
  web?: boolean
}

export function addServeCommand(program: Command): void {
  addConnectOption(program.command('serve').description('run a daemon serving the tree (until SIGINT or SIGTERM)'))
    .option('--listen <url>', 'unix:/PATH, ws://HOST:PORT or wss://HOST:PORT (repeatable; default: the default unix socket)',
      collect)
    .option('--tls-cert <file>', 'certificate for wss:// listeners')
    .option('--tls-key <file>', 'private key for wss:// listeners')
    .option('--file-root <dir>', 'a folder whose files clients may open with file: (repeatable; default: <state dir>/dumps)', collect)
    .option('--plugin-root <dir>', 'a folder whose plugin files clients may load (repeatable; default: <state dir>/plugins and the bundled examples)', collect)
    .option('--socket-group <group>', 'let this group use the unix sockets too (0660 instead of owner-only 0600; members are admin)')
    .option('--allow-origin <origin>', 'a browser origin (http(s)://HOST[:PORT]) allowed besides the daemon\'s own (repeatable)', collect)
    .option('--fuse <mountpoint>', 'also mount the tree there with FUSE (unmounted on shutdown)')
    .option('--fuse-read-only', 'make that mount read-only (control leaves included)')
    .option('--memory-budget <size>', 'bytes of reads in flight and unsent replies, all clients together (e.g. 512m; default: an eighth of RAM)')
    .option('--limit <name=value>', 'set one server or node limit, e.g. maxHandlesPerClient=256 or maxConnectors=100 (repeatable; see docs/limits.md)', collect)
    .option('--web', 'serve the web page on the TCP listeners (open it with: memweave web)')
    .action(async (options: ServeOptions, command: Command) => {
      const { serve } = await import('./serve-actions.js')
      await serve(globalsOf(command), options)
    })
}
