/**
 * `peer add|rm|ls`: a daemon's peers, through its sys/peers leaves (add and
 * rm as RPCs, so the daemon's own answer is what the user sees; the token
 * is read here and sent in the RPC object, never on a line). Also the
 * thing `serve` needs for composition beside --connect: the node's TLS
 * certificate (self-signed in the state directory unless given).
 * peer-commands.ts defines the commands and loads this file when one runs.
 */
import type { Logger } from 'pino'
import { ensureNodeCertificate, fingerprintOf, parseEndpoint, stateDirectory } from '../../../net/index.js'
import { callRpc, readJson } from '../leaf-io.js'
import { isRecord } from '../../../errors/index.js'
import type { GlobalOptions } from '../globals.js'
import type { Output } from '../output.js'
import { normalizeUrl, readTokenFile, withClient } from '../session.js'
import type { AddOptions, TokenFiles } from './peer-commands.js'

export async function addCommand(globals: GlobalOptions, name: string, url: string, options: AddOptions, tokenFiles: TokenFiles): Promise<void> {
  const request: Record<string, string> = { name, url: normalizeUrl(url, 'URL') }
  if (tokenFiles.peer !== undefined) request.token = await readTokenFile(tokenFiles.peer)
  if (options.fingerprint !== undefined) request.fingerprint = options.fingerprint
  if (options.ca !== undefined) request.caFile = options.ca
  await runPeerRpc(globals, 'sys/peers/add', request, tokenFiles.daemon)
}

export async function rmCommand(globals: GlobalOptions, name: string): Promise<void> {
  await runPeerRpc(globals, 'sys/peers/rm', name)
}

export async function lsCommand(globals: GlobalOptions): Promise<void> {
  await withClient(globals, async ({ client, out }) => {
    const peers = await readJson(client, 'sys/peers/list')
    if (out.json) { out.jsonValue(peers); return }
    printPeers(out, Array.isArray(peers) ? peers : [])
  })
}

async function runPeerRpc(globals: GlobalOptions, leaf: string, request: unknown, daemonTokenFile?: string): Promise<void> {
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

