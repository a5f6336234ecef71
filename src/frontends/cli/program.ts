/**
 * The `memweave` command line: program-wide options, the commands, and
 * runCli, which turns any failure into one stderr line and an exit code
 * (2 usage, 1 operation failed, 3 no daemon).
 *
 * Every command runs in a fresh process, so what it loads is its startup
 * time: the commands/*-command(s).ts files only define commands (commander
 * and a few pure helpers), and each action imports its *-actions.ts when it
 * runs. A client command thus never loads the node, the server, FUSE, the
 * web frontend or pino; `--version` and `--help` load no client at all.
 */
import { Command, CommanderError, Option } from 'commander'
import { addGdbserverCommand } from './commands/gdbserver-command.js'
import { addMountCommand } from './commands/mount-command.js'
import { addObjectCommands } from './commands/object-commands.js'
import { addOsCommands } from './commands/os-commands.js'
import { addPeerCommands } from './commands/peer-commands.js'
import { addPluginCommands } from './commands/plugin-commands.js'
import { addServeCommand } from './commands/serve-command.js'
import { addSysCommand } from './commands/sys-command.js'
import { addThreadCommands } from './commands/thread-commands.js'
import { addTokenCommand } from './commands/token-command.js'
import { addTreeCommands } from './commands/tree-commands.js'
import { addWebCommand } from './commands/web-command.js'
import { describeError, EXIT_OK, EXIT_USAGE, exitCodeFor, usageError } from './cli-errors.js'
import { collect, LOG_LEVELS } from './globals.js'
import { MEMWEAVE_VERSION } from '../../version.js'

export function buildProgram(): Command {
  const program = new Command('memweave')
    .description('memory introspection as one tree: dumps, live VMs and host processes')
    .usage('[options] <command> [args]')
    .option('--daemon <url>', 'the daemon to talk to (unix:/PATH, ws://HOST:PORT, wss://…; env MEMWEAVE_DAEMON; default: the default socket)')
    .option('--token <token>', 'token for the daemon (prefer --token-file or env MEMWEAVE_TOKEN)')
    .option('--token-file <file>', 'read the token from a file (serve: the token clients must present)')
    .option('--embedded', 'run the command on an in-process node instead of a daemon')
    .option('--config <file>', 'TOML config (serve, --embedded): listen, connectors, OSs')
    .option('--with <line>', "create an object in the node: 'connector NAME KIND:ARGS' or 'os NAME -c CONNECTOR KIND[:ARGS]' (repeatable)",
      collect)
    .option('--allow-write', 'allow writes to memory (serve, --embedded)')
    .option('--json', 'machine-readable output (serve: JSON log lines)')
    .option('--exclusive', 'open leaves exclusively: refused while anyone else holds them, and others are refused while held')
    .addOption(new Option('--log-level <level>', 'log level (serve default info, --embedded default warn)').choices(LOG_LEVELS))
    .addOption(new Option('--timeout <ms>', 'connect timeout in milliseconds').argParser(parseTimeout))
    .option('--debug', 'show stacks and causes with errors')
    .option('-V, --version', 'print the version')
    .exitOverride()
    .configureOutput({
      // Commander's own usage errors become our one line, with a pointer to help.
      outputError: (text, write) => { write(`memweave: ${text.replace(/^error: /, '').trimEnd()} (see 'memweave --help')\n`) },
    })
    .showSuggestionAfterError()
  addServeCommand(program)
  addTreeCommands(program)
  addObjectCommands(program)
  addSysCommand(program)
  addOsCommands(program)
  addThreadCommands(program)
  addGdbserverCommand(program)
  addPeerCommands(program)
  addPluginCommands(program)
  addMountCommand(program)
  addTokenCommand(program)
  addWebCommand(program)
  // Only the program itself takes extra words (to name an unknown command); subcommands stay strict.
  // An action on the program would drop the implicit `help` command, so ask for it.
  program.allowExcessArguments(true).helpCommand(true)
  program.action(async (options: { version?: boolean }, command: Command) => {
    if (command.args.length > 0) throw usageError(`unknown command '${command.args[0] ?? ''}' (see 'memweave --help')`)
    if (options.version === true) {
      process.stdout.write(`${MEMWEAVE_VERSION}\n`)
      return
    }
    program.outputHelp()
  })
  return program
}

function parseTimeout(value: string): number {
  const ms = Number(value)
  if (!Number.isSafeInteger(ms) || ms <= 0) throw usageError(`--timeout '${value}' is not a positive number of milliseconds`)
  return ms
}

/** Runs one command line; returns the exit code (never throws). */
export async function runCli(args: readonly string[]): Promise<number> {
  try {
    await buildProgram().parseAsync([...args], { from: 'user' })
    return EXIT_OK
  } catch (err) {
    // Commander has printed its own message (through outputError above) or the help.
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE
    process.stderr.write(`${describeError(err, args.includes('--debug'))}\n`)
    return exitCodeFor(err)
  }
}
