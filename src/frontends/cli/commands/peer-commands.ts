/**
 * `peer add|rm|ls`: a daemon's peers, through its sys/peers leaves. Only
 * their definitions (each action loads peer-actions.ts when it runs), and
 * the --connect option of `serve`, declared and checked here.
 */
import type { Command } from 'commander'
import { usageError } from '../cli-errors.js'
import { collect, globalsOf } from '../globals.js'

export const CONNECT_HELP = 'mount another daemon as NAME/: NAME=URL[,token-file=F][,fingerprint=SHA256][,ca=F] (repeatable)'

/** `serve --connect …`, declared here so serve-command.ts needs one line. */
export function addConnectOption(command: Command): Command {
  return command.option('--connect <peer>', CONNECT_HELP, collect)
}

export interface AddOptions {
  fingerprint?: string
  ca?: string
}

export interface TokenFiles {
  readonly daemon: string | undefined
  readonly peer: string | undefined
}

/**
 * `--token-file` is also a program-wide option (the daemon's token), and
 * commander gives every occurrence to that one. For `peer add` the words
 * decide: a --token-file after `add` is the peer's, one before is the daemon's.
 */
export function splitTokenFiles(rawArgs: readonly string[]): TokenFiles {
  const add = rawArgs.findIndex((word, i) => word === 'add' && rawArgs[i - 1] === 'peer')
  let daemon: string | undefined
  let peer: string | undefined
  rawArgs.forEach((word, i) => {
    const value = word === '--token-file' ? rawArgs[i + 1] : word.startsWith('--token-file=') ? word.slice('--token-file='.length) : undefined
    if (value === undefined) return
    if (add >= 0 && i > add) peer = value
    else daemon = value
  })
  return { daemon, peer }
}

export function addPeerCommands(program: Command): void {
  const actions = (): Promise<typeof import('./peer-actions.js')> => import('./peer-actions.js')
  const group = program.command('peer').description("other daemons mounted in this one's tree (sys/peers)")

  group.command('add').description('connect the daemon to another daemon, shown as NAME/ (writes sys/peers/add)')
    .argument('<name>', 'the local name: the peer shows as NAME/, its objects as connector/NAME.X and os/NAME.Y')
    .argument('<url>', 'unix:/PATH, ws://HOST:PORT or wss://HOST:PORT')
    .option('--token-file <file>', "the peer's token (given after 'add'; read here, sent to the daemon)")
    .option('--fingerprint <sha256>', "pin the peer's TLS certificate (printed by its 'memweave serve')")
    .option('--ca <file>', "trust this CA for the peer's certificate")
    .action(async (name: string, url: string, options: AddOptions, command: Command) => {
      // commander keeps the words it parsed in `rawArgs`, which its typings leave out.
      const raw: unknown = Reflect.get(program, 'rawArgs')
      const tokenFiles = splitTokenFiles(Array.isArray(raw) ? raw.filter((w): w is string => typeof w === 'string') : [])
      await (await actions()).addCommand(globalsOf(command), name, url, options, tokenFiles)
    })

  group.command('rm').description('disconnect and forget a peer (writes sys/peers/rm)')
    .argument('<name>')
    .action(async (name: string, _options: unknown, command: Command) => {
      await (await actions()).rmCommand(globalsOf(command), name)
    })

  group.command('ls').description('peers with their state, latency and traffic (sys/peers/list)')
    .action(async (_options: unknown, command: Command) => {
      await (await actions()).lsCommand(globalsOf(command))
    })
}

/** Checks --connect values early, so a typo is a usage error before anything starts. */
export function checkConnectOptions(values: readonly string[] | undefined): readonly string[] {
  for (const value of values ?? []) {
    if (!/^[^=,\s]+=\S+$/.test(value)) throw usageError(`--connect '${value}' is not NAME=URL[,key=value…]`)
  }
  return values ?? []
}
