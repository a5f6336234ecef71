/**
 * Where a client command's tree comes from: a daemon (--daemon URL, else
 * MEMWEAVE_DAEMON, else the default unix socket) or, with --embedded, a node
 * in this process that lives for the one command. Either way the command
 * gets a TreeClient and the session is closed after it, whatever happens.
 */
import { MemweaveError } from '../../errors/index.js'
import { connectClient, defaultDaemonUrl, normalizeDaemonUrl, readTokenFile, resolveToken } from '../../net/client.js'
import type { TreeClient } from '../../net/client.js'
import { isAbsentDaemon, NoDaemonError, usageError } from './cli-errors.js'
import type { GlobalOptions } from './globals.js'
import { Output } from './output.js'

export interface CommandContext {
  readonly client: TreeClient
  readonly out: Output
  readonly globals: GlobalOptions
}

/** The daemon address as a listen/connect URL; a bare path means a unix socket. */
export function daemonUrl(globals: GlobalOptions): string {
  try {
    return globals.daemon === undefined || globals.daemon === '' ? defaultDaemonUrl() : normalizeDaemonUrl(globals.daemon, '--daemon')
  } catch (err) {
    throw err instanceof MemweaveError ? usageError(err.message) : err
  }
}

export function normalizeUrl(given: string, what: string): string {
  try {
    return normalizeDaemonUrl(given, what)
  } catch (err) {
    throw err instanceof MemweaveError ? usageError(err.message) : err
  }
}

export { readTokenFile, resolveToken }

export interface SessionOptions {
  /**
   * The command moves bulk data (cat, read, dump, mount, gdbserver): over a unix socket it offers the
   * daemon a shared data ring. Other commands read small leaves, which come inline anyway, and skip
   * the ring's setup (a tmpfs file, its mapping, about 10 ms of a short command's life).
   */
  readonly bulk?: boolean
}

export async function withClient(globals: GlobalOptions, job: (context: CommandContext) => Promise<void>, session: SessionOptions = {}): Promise<void> {
  const out = new Output(globals.json === true)
  if (globals.embedded === true && globals.daemon !== undefined) throw usageError('--daemon and --embedded exclude each other')
  if (globals.embedded === true) {
    await withEmbedded(globals, (client) => job({ client: exclusiveIf(globals, client), out, globals }))
    return
  }
  if (globals.with.length > 0) throw usageError('--with creates objects in an --embedded node; add --embedded (or create them on the daemon with connector new / os new)')
  const url = daemonUrl(globals)
  let client: TreeClient
  try {
    // Only connecting is bounded: a long request (opening an OS, dumping a core) may take its time.
    client = await connectClient(url, { token: await resolveToken(globals.token, globals.tokenFile), connectTimeoutMs: globals.timeoutMs ?? 10_000, name: 'cli',
      ...(session.bulk === true ? {} : { dataRing: false }) })
  } catch (err) {
    if (isAbsentDaemon(err)) throw new NoDaemonError(url, err)
    if (err instanceof MemweaveError) throw new MemweaveError(err.origin, err.kind, `cannot connect to ${url}: ${err.message}`, { cause: err })
    throw err
  }
  try {
    await job({ client: exclusiveIf(globals, client), out, globals })
  } finally {
    await client.disconnect()
  }
}

/** With --exclusive, every open the command makes asks to be the leaf's only user. */
function exclusiveIf(globals: GlobalOptions, client: TreeClient): TreeClient {
  if (globals.exclusive !== true) return client
  return {
    list: (path) => client.list(path),
    stat: (path) => client.stat(path),
    open: (path) => client.open(path, { exclusive: true }),
    read: (handle, pieces) => client.read(handle, pieces),
    readInto: (handle, pieces, target) => client.readInto(handle, pieces, target),
    write: (handle, pieces) => client.write(handle, pieces),
    rpc: (handle, request) => client.rpc(handle, request),
    close: (handle) => client.close(handle),
    watch: (path, listener) => client.watch(path, listener),
    disconnect: () => client.disconnect(),
  }
}

async function withEmbedded(globals: GlobalOptions, job: (client: TreeClient) => Promise<void>): Promise<void> {
  // Loaded on demand: a command that talks to a daemon needs none of these (nor the node layer, nor pino).
  // This and serve are where the CLI starts a node (the layer test's composition doors).
  const [{ loadConfig }, { onPeers, parseWith, startObjects }, { createLogger }] = await Promise.all([
    import('./config.js'), import('./control-lines.js'), import('./logger.js'),
  ])
  const config = globals.config === undefined ? undefined : await loadConfig(globals.config)
  const objects = [...(config?.objects ?? []), ...globals.with.map(parseWith)]
  const { createNode } = await import('../../node/index.js')
  const node = await createNode({
    allowWrite: globals.allowWrite === true || config?.allowWrite === true,
    log: createLogger({ level: globals.logLevel ?? config?.logLevel ?? 'warn', json: globals.json === true }),
    objects: startObjects(objects),
    waitForPeers: onPeers(objects),
  })
  const client = node.client('cli')
  try {
    await job(client)
  } finally {
    await client.disconnect()
    await node.close()
  }
}
