/**
 * `peer add|rm|ls`: a daemon's peers, through its sys/peers leaves (add and
 * rm as RPCs, so the daemon's own answer is what the user sees; the token
 * is read here and sent in the RPC object, never on a line). Also the two
 * things `serve` needs for composition: the --connect option and the
 * node's TLS certificate (self-signed in the state directory unless given).
 */
import type { Command } from 'commander'
import type { Logger } from 'pino'
import { ensureNodeCertificate, fingerprintOf, parseEndpoint, stateDirectory } from '../../../net/index.js'
import { usageError } from '../cli-errors.js'
import { callRpc, readJson } from '../leaf-io.js'
import { isRecord } from '../../../errors/index.js'
import type { Output } from '../output.js'
import { collect, globalsOf, normalizeUrl, readTokenFile, withClient } from '../session.js'

export const CONNECT_HELP = 'mount another daemon as NAME/: NAME=URL[,token-file=F][,fingerprint=SHA256][,ca=F] (repeatable)'

/** `serve --connect …`, declared here so serve-command.ts needs one line. */
export function addConnectOption(command: Command): Command {
  return command.option('--connect <peer>', CONNECT_HELP, collect)
}

interface AddOptions {
  fingerprint?: string
  ca?: string
}

/**
 * `--token-file` is also a program-wide option (the daemon's token), and
 * commander gives every occurrence to that one. For `peer add` the words
 * decide: a --token-file after `add` is the peer's, one before is the daemon's.
 */
export function splitTokenFiles(rawArgs: readonly string[]): { daemon: string | undefined; peer: string | undefined } {
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
      const request: Record<string, string> = { name, url: normalizeUrl(url, 'URL') }
      if (tokenFiles.peer !== undefined) request.token = await readTokenFile(tokenFiles.peer)
      if (options.fingerprint !== undefined) request.fingerprint = options.fingerprint
      if (options.ca !== undefined) request.caFile = options.ca
      await runPeerRpc(command, 'sys/peers/add', request, tokenFiles.daemon)
    })

  group.command('rm').description('disconnect and forget a peer (writes sys/peers/rm)')
    .argument('<name>')
    .action(async (name: string, _options: unknown, command: Command) => {
      await runPeerRpc(command, 'sys/peers/rm', name)
    })

  group.command('ls').description('peers with their state, latency and traffic (sys/peers/list)')
    .action(async (_options: unknown, command: Command) => {
      await withClient(globalsOf(command), async ({ client, out }) => {
        const peers = await readJson(client, 'sys/peers/list')
        if (out.json) { out.jsonValue(peers); return }
        printPeers(out, Array.isArray(peers) ? peers : [])
      })
    })
}

async function runPeerRpc(command: Command, leaf: string, request: unknown, daemonTokenFile?: string): Promise<void> {
  const globals = globalsOf(command)
  await withClient(daemonTokenFile === undefined && leaf.endsWith('/add') ? { ...globals, tokenFile: undefined } : { ...globals, tokenFile: daemonTokenFile ?? globals.tokenFile }, async ({ client, out }) => {
    const result = await callRpc(client, leaf, request)
    const message = typeof result === 'string' ? result : JSON.stringify(result)
    if (out.json) out.jsonValue({ ok: true, message })
    else out.line(message)
  })
}

function printPeers(out: Output, peers: readonly unknown[]): void {
  if (peers.length === 0) { out.line("no peers (add one with 'memweave peer add NAME URL' or serve --connect)"); return }
  const count = (value: unknown): string => (typeof value === 'number' ? String(value) : '?')
  out.table(['NAME', 'URL', 'STATE', 'LATENCY', 'MSGS IN/OUT', 'BYTES IN/OUT', 'LAST ERROR'], peers.filter(isRecord).map((p) => {
    const traffic = isRecord(p.traffic) ? p.traffic : {}
    return [
      String(p.name), String(p.url), String(p.state),
      typeof p.latencyMs === 'number' ? `${p.latencyMs.toFixed(2)} ms` : '',
      `${count(traffic.messagesIn)}/${count(traffic.messagesOut)}`,
      `${count(traffic.bytesIn)}/${count(traffic.bytesOut)}`,
      typeof p.lastError === 'string' ? p.lastError : '',
    ]
  }))
}

export interface ServeCertificate {
  readonly tls: { certFile: string; keyFile: string } | undefined
  /** SHA-256 fingerprint of the certificate wss:// listeners present, for peers to pin. */
  readonly fingerprint: string | undefined
}

/**
 * The certificate for wss:// listeners: the one given, or the node's own
 * self-signed one from the state directory (made on first start).
 */
export async function serveCertificate(listen: readonly string[], given: { certFile: string; keyFile: string } | undefined, log: Logger): Promise<ServeCertificate> {
  const wss = listen.some((url) => { const e = parseEndpoint(url); return e.kind === 'tcp' && e.tls })
  if (!wss) return { tls: given, fingerprint: undefined }
  if (given !== undefined) return { tls: given, fingerprint: await fingerprintOf(given.certFile) }
  const dir = stateDirectory()
  const made = await ensureNodeCertificate(dir)
  if (made.created) log.info({ certFile: made.certFile, fingerprint: made.fingerprint }, 'made a self-signed TLS certificate for this node')
  return { tls: { certFile: made.certFile, keyFile: made.keyFile }, fingerprint: made.fingerprint }
}

/** Checks --connect values early, so a typo is a usage error before anything starts. */
export function checkConnectOptions(values: readonly string[] | undefined): readonly string[] {
  for (const value of values ?? []) {
    if (!/^[^=,\s]+=\S+$/.test(value)) throw usageError(`--connect '${value}' is not NAME=URL[,key=value…]`)
  }
  return values ?? []
}
