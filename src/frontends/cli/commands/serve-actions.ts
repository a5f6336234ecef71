/**
 * `memweave serve`: build the node (config objects and --with lines), serve
 * its tree on every listen address, print where, then wait for SIGINT or
 * SIGTERM (no polling) and shut down: close the server, then the node.
 * serve-command.ts defines the command and loads this file when it runs.
 */
import type { Logger } from 'pino'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { defaultSocketPath, LocalTreeClient, startServer, stateDirectory, TokenStore } from '../../../net/index.js'
import type { MountedTree } from '../../fuse/index.js'
import type { PageServer, RunningServer } from '../../../net/index.js'
import { usageError } from '../cli-errors.js'
import { loadConfig } from '../config.js'
import type { MemweaveConfig } from '../config.js'
import { onPeers, parseWith, startObjects } from '../control-lines.js'
import { parseLimitOptions } from '../limit-options.js'
import { createLogger } from '../logger.js'
import { Output } from '../output.js'
import { normalizeUrl, readTokenFile, resolveToken } from '../session.js'
import { waitForStopSignal } from '../stop-signal.js'
import type { GlobalOptions } from '../globals.js'
import { serveCertificate } from './peer-actions.js'
import { checkConnectOptions } from './peer-commands.js'
import type { ServeOptions } from './serve-command.js'

/** How long the process may linger after a clean shutdown before it exits anyway (a leaked timer or socket must not keep a stopped daemon around). */
const SHUTDOWN_GRACE_MS = 5000

export async function serve(globals: GlobalOptions, options: ServeOptions): Promise<void> {
  if (globals.token !== undefined) throw usageError('serve reads its token from --token-file or MEMWEAVE_TOKEN (a token on the command line is visible to every user in ps)')
  if (globals.embedded === true) throw usageError('serve runs its own node; --embedded is for client commands')
  if ((options.tlsCert === undefined) !== (options.tlsKey === undefined)) throw usageError('--tls-cert and --tls-key go together')
  // Listening from the start: a signal during a long startup (an OS open) still stops us cleanly once it is done.
  const stop = waitForStopSignal(() => { process.stderr.write('memweave: second signal: exiting now\n'); process.exit(130) })
  try {
    const config = globals.config === undefined ? undefined : await loadConfig(globals.config)
    const log = createLogger({ level: globals.logLevel ?? config?.logLevel ?? 'info', json: globals.json === true })
    // A bug that escapes every handler still ends the daemon (state is unknown), but through the log, not a bare stack.
    process.on('uncaughtException', (err) => { log.fatal({ err }, 'uncaught exception; exiting'); process.exit(70) })
    const settings = await serveSettings(globals, options, config)
    // Loaded on demand: a client command never needs the node layer. serve and --embedded are where the CLI starts a node.
    const { createNode, DEFAULT_NODE_LIMITS, startBundler } = await import('../../../node/index.js')
    const connect = checkConnectOptions([...(config?.peers ?? []), ...(options.connect ?? [])])
    const certificate = await serveCertificate(settings.listen, settings.tls, log)
    const limits = parseLimitOptions(options.memoryBudget, options.limit ?? [], DEFAULT_NODE_LIMITS)
    const pages = options.web === true ? await webPages(settings.listen) : undefined
    const fileRoots = [...(config?.fileRoots ?? []), ...(options.fileRoot ?? [])].map((dir) => resolve(dir))
    const pluginRoots = [...(config?.pluginRoots ?? []), ...(options.pluginRoot ?? [])].map((dir) => resolve(dir))
    const objects = [...(config?.objects ?? []), ...globals.with.map(parseWith)]
    const node = await createNode({
      allowWrite: settings.allowWrite, fileRoots: fileRoots.length > 0 ? fileRoots : [join(stateDirectory(), 'dumps')],
      pluginRoots: pluginRoots.length > 0 ? pluginRoots : defaultPluginRoots(), log, limits: limits.node, objects: startObjects(objects), connect, waitForPeers: onPeers(objects) })
    const tokens = TokenStore.inDirectory(stateDirectory())
    const socketGroup = options.socketGroup ?? config?.socketGroup
    let server: RunningServer
    try {
      server = await startServer({
        tree: node.tree, listen: settings.listen, token: settings.token, log, nodeInfo: () => node.sysInfo(), tls: certificate.tls, pages,
        allowedOrigins: [...(config?.allowedOrigins ?? []), ...(options.allowOrigin ?? [])], limits: limits.server,
        // Named tokens (memweave token add): read on each hello, so added and removed ones count at once.
        tokenStore: () => tokens.credentials(),
        ...(socketGroup === undefined ? {} : { socketGroup: await groupId(socketGroup) }),
      })
    } catch (err) {
      await node.close()
      throw err
    }
    let mounted: MountedTree | undefined
    try {
      // Children spawned after the mount would inherit /dev/fuse (no O_CLOEXEC in libfuse 2): the bundler,
      // which esbuild spawns itself, starts first; plugin hosts close the descriptor in their launch wrapper.
      if (options.fuse !== undefined) await startBundler()
      // The FUSE frontend (and its bindings) loads only for a mount.
      mounted = options.fuse === undefined ? undefined
        : await (await import('../../fuse/index.js')).mountTree(new LocalTreeClient(node.tree, 'fuse'), options.fuse, { readOnly: options.fuseReadOnly === true, log })
    } catch (err) {
      await server.close()
      await node.close()
      throw err
    }
    announce(new Output(globals.json === true), server, settings.allowWrite, settings.token !== undefined, log, certificate.fingerprint)
    if (mounted !== undefined) log.info({ mountpoint: mounted.mountpoint }, 'tree mounted')
    const signal = await stop.promise
    log.info({ signal }, 'shutting down')
    // The mount first: its reads would otherwise fail against a closing node.
    await mounted?.unmount()
    await server.close()
    await node.close()
    log.info('stopped')
    setTimeout(() => { log.warn({ graceMs: SHUTDOWN_GRACE_MS }, 'still running after shutdown; exiting'); process.exit(process.exitCode ?? 0) }, SHUTDOWN_GRACE_MS).unref()
  } finally {
    stop.dispose()
  }
}

interface ServeSettings {
  listen: string[]
  allowWrite: boolean
  token: string | undefined
  tls: { certFile: string; keyFile: string } | undefined
}

async function serveSettings(globals: GlobalOptions, options: ServeOptions, config: MemweaveConfig | undefined): Promise<ServeSettings> {
  const fromCommandLine = options.listen ?? []
  const given = fromCommandLine.length > 0 ? fromCommandLine : config?.listen ?? [`unix:${defaultSocketPath()}`]
  const tokenFile = globals.tokenFile ?? config?.tokenFile
  return {
    listen: given.map((url) => normalizeUrl(url, fromCommandLine.length > 0 ? '--listen' : `listen in ${config?.file ?? 'the config'}`)),
    allowWrite: globals.allowWrite === true || config?.allowWrite === true,
    token: tokenFile === undefined ? await resolveToken(undefined, undefined) : await readTokenFile(tokenFile),
    tls: options.tlsCert !== undefined && options.tlsKey !== undefined ? { certFile: options.tlsCert, keyFile: options.tlsKey } : config?.tls,
  }
}

/**
 * Where clients may load plugins from when nothing is configured: `<state dir>/plugins`, and the
 * examples of a checkout (examples/plugins beside package.json), so the documented examples load as they are.
 */
function defaultPluginRoots(): string[] {
  const roots = [join(stateDirectory(), 'plugins')]
  for (let dir = dirname(fileURLToPath(import.meta.url)); dirname(dir) !== dir; dir = dirname(dir)) {
    if (!existsSync(join(dir, 'package.json'))) continue
    if (existsSync(join(dir, 'examples', 'plugins'))) roots.push(join(dir, 'examples', 'plugins'))
    break
  }
  return roots
}

/** A group name (from /etc/group) or a numeric gid. */
async function groupId(group: string): Promise<number> {
  if (/^\d+$/.test(group)) return Number(group)
  const text = await readFile('/etc/group', 'utf8').catch(() => '')
  const line = text.split('\n').find((l) => l.split(':')[0] === group)
  const gid = line?.split(':')[2]
  if (gid === undefined || !/^\d+$/.test(gid)) throw usageError(`--socket-group '${group}': no such group in /etc/group (give a name or a numeric gid)`)
  return Number(gid)
}

/** The page's files, loaded before the node opens anything (a missing build fails fast); --web needs a TCP listener. */
async function webPages(listen: readonly string[]): Promise<PageServer> {
  if (!listen.some((url) => url.startsWith('ws://') || url.startsWith('wss://'))) {
    throw usageError('--web needs a TCP listener for the browser (add --listen ws://127.0.0.1:PORT)')
  }
  const { loadPageFiles } = await import('../../web/index.js')
  return loadPageFiles()
}

function announce(out: Output, server: RunningServer, allowWrite: boolean, token: boolean, log: Logger, fingerprint: string | undefined): void {
  const { addresses, tokenFiles, pages } = server
  log.info({ allowWrite, token, fingerprint }, 'ready')
  if (out.json) {
    const extra = { ...(fingerprint === undefined ? {} : { fingerprint }), ...(tokenFiles.length === 0 ? {} : { tokenFiles }), ...(pages.length === 0 ? {} : { pages }) }
    out.line(JSON.stringify({ listening: addresses, allowWrite, pid: process.pid, ...extra }))
    return
  }
  // Before the addresses: whoever waits for "listening on" has the fingerprint to pin (and the token file) by then.
  if (fingerprint !== undefined) out.line(`certificate SHA256 ${fingerprint}`)
  for (const file of tokenFiles) out.line(`token file ${file} (local clients of this user find it by themselves)`)
  for (const address of addresses) out.line(`listening on ${address}`)
  for (const page of server.pages) out.line(`web page at ${page} (open it with: memweave web)`)
}

