/**
 * The named connectors and OSs of one node, with the rules for creating and
 * removing them: names unique, chain targets must exist, and removing
 * something still open or depended upon is refused unless forced.
 */
import type { Logger } from 'pino'
import type { Connector } from '../connectors/index.js'
import { MemweaveError, toMemweaveError } from '../errors/index.js'
import type { OsInstance } from '../os/index.js'
import { currentClient, Lifetime } from '../tree/index.js'
import type { CreateLine, KindArgs, Tree } from '../tree/index.js'
import type { ConnectorKinds, OsKinds } from './kind-registry.js'
import { checkCap } from './node-limits.js'
import type { NodeLimits } from './node-limits.js'

export interface ConnectorRecord {
  readonly name: string
  readonly kind: string
  readonly args: KindArgs
  readonly on: string | undefined
  readonly connector: Connector
  readonly identity: string
  readonly createdAt: Date
}

export interface OsRecord {
  readonly name: string
  readonly kind: string
  readonly args: KindArgs
  readonly connectorName: string | undefined
  readonly os: OsInstance
  readonly identity: string
  readonly createdAt: Date
  readonly openMs: number
}

export interface StoreOptions {
  readonly tree: Tree
  readonly log: Logger
  readonly connectorKinds: ConnectorKinds
  readonly osKinds: OsKinds
  readonly allowWrite: boolean
  readonly rootLifetime: Lifetime
  readonly limits: NodeLimits
  /** Allowed roots for client-named connector files (ConnectorContext.fileRoots). */
  readonly fileRoots?: readonly string[]
}

export class ObjectStore {
  readonly connectors = new Map<string, ConnectorRecord>()
  readonly oses = new Map<string, OsRecord>()
  private serial = 0
  private readonly pending = new Set<string>()
  /** client owner id → objects it created that still exist (or are being created). */
  private readonly createdBy = new Map<string, number>()
  /** object identity → the client that created it. */
  private readonly creators = new Map<string, string>()

  constructor(private readonly options: StoreOptions) {}

  async createConnector(line: CreateLine, trusted = false): Promise<ConnectorRecord> {
    const { name } = line
    checkCap(this.connectors.size + this.pendingOf('connector'), this.options.limits.maxConnectors, 'maxConnectors', 'the daemon holds the most connectors it may')
    const client = this.chargeClient()
    this.claim(name, 'connector', this.connectors)
    let created = false
    try {
      const kind = this.options.connectorKinds.get(line.kind)
      let parentLifetime = this.options.rootLifetime
      if (line.on !== undefined) {
        const os = this.oses.get(line.on)
        if (os === undefined) throw new MemweaveError('node', 'not_found', `connector '${name}': no OS named '${line.on}' to chain on`)
        parentLifetime = os.os.lifetime
      }
      const description = `connector '${name}'`
      const started = performance.now()
      const connector = await kind.create(line.args, {
        allowWrite: this.options.allowWrite,
        fileRoots: trusted ? undefined : this.options.fileRoots,
        log: this.options.log.child({ connector: name }),
        parentLifetime,
        description,
      }).catch((err: unknown) => { throw toMemweaveError(err, 'connector', `connector '${name}' (${line.kind}:${line.args.raw})`) })
      const record: ConnectorRecord = {
        name, kind: line.kind, args: line.args, on: line.on, connector,
        identity: `connector:${name}#${++this.serial}`, createdAt: new Date(),
      }
      this.connectors.set(name, record)
      created = true
      if (client !== undefined) this.creators.set(record.identity, client)
      this.options.log.info({ connector: name, kind: line.kind, ms: Math.round(performance.now() - started) }, 'connector created')
      this.options.tree.events.notify('connector')
      return record
    } finally {
      this.pending.delete(`connector:${name}`)
      if (!created) this.unchargeClient(client)
    }
  }

  /** `trusted`: the line is the daemon's own (command line, config): files in its args need not lie under the roots. */
  async createOs(line: CreateLine, trusted = false): Promise<OsRecord> {
    const { name } = line
    checkCap(this.oses.size + this.pendingOf('os'), this.options.limits.maxOses, 'maxOses', 'the daemon holds the most OSs it may')
    const client = this.chargeClient()
    this.claim(name, 'os', this.oses)
    let created = false
    try {
      const kind = this.options.osKinds.get(line.kind)
      let connector: ConnectorRecord | undefined
      if (line.on !== undefined) {
        connector = this.connectors.get(line.on)
        if (connector === undefined) throw new MemweaveError('node', 'not_found', `os '${name}': no connector named '${line.on}' (see connector/)`)
      } else if (kind.needsConnector) {
        throw new MemweaveError('node', 'invalid_argument', `os '${name}': kind '${line.kind}' needs a connector: '${name} -c CONNECTOR ${line.kind}'`)
      }
      const started = performance.now()
      const os = await kind.create(line.args, connector?.connector, {
        allowWrite: this.options.allowWrite,
        fileRoots: trusted ? undefined : this.options.fileRoots,
        log: this.options.log.child({ os: name }),
        parentLifetime: connector?.connector.lifetime ?? this.options.rootLifetime,
        description: `os '${name}'`,
      }).catch((err: unknown) => { throw toMemweaveError(err, 'os', `os '${name}' (${line.kind}${line.args.raw === '' ? '' : `:${line.args.raw}`})`) })
      const openMs = performance.now() - started
      const record: OsRecord = {
        name, kind: line.kind, args: line.args, connectorName: connector?.name, os,
        identity: `os:${name}#${++this.serial}`, createdAt: new Date(), openMs,
      }
      this.oses.set(name, record)
      created = true
      if (client !== undefined) this.creators.set(record.identity, client)
      this.options.log.info({ os: name, kind: line.kind, ms: Math.round(openMs) }, 'os created')
      this.options.tree.events.notify('os')
      return record
    } finally {
      this.pending.delete(`os:${name}`)
      if (!created) this.unchargeClient(client)
    }
  }

  async removeConnector(name: string, force: boolean): Promise<void> {
    const record = this.connectors.get(name)
    if (record === undefined) throw new MemweaveError('node', 'not_found', `no connector named '${name}'`)
    const dependents = [...this.oses.values()].filter((o) => o.connectorName === name)
    const open = this.options.tree.handles.openUnder(record.identity)
    if (!force && (dependents.length > 0 || open.length > 0)) {
      const why = [
        dependents.length > 0 ? `OS ${dependents.map((d) => `'${d.name}'`).join(', ')} use${dependents.length === 1 ? 's' : ''} it` : '',
        open.length > 0 ? `${open.length} handle(s) are open on it` : '',
      ].filter((s) => s !== '').join(' and ')
      throw new MemweaveError('node', 'busy', `connector '${name}' is in use: ${why}; add -f to remove anyway`)
    }
    for (const os of dependents) await this.removeOs(os.name, true)
    this.connectors.delete(name)
    this.forget(record.identity)
    record.connector.lifetime.end('was removed')
    await record.connector.close()
    this.options.tree.events.notify('connector')
  }

  async removeOs(name: string, force: boolean): Promise<void> {
    const record = this.oses.get(name)
    if (record === undefined) throw new MemweaveError('node', 'not_found', `no OS named '${name}'`)
    const chained = [...this.connectors.values()].filter((c) => c.on === name)
    const open = this.options.tree.handles.openUnder(record.identity)
    if (!force && (chained.length > 0 || open.length > 0)) {
      const why = [
        chained.length > 0 ? `connector ${chained.map((c) => `'${c.name}'`).join(', ')} chain${chained.length === 1 ? 's' : ''} on it` : '',
        open.length > 0 ? `${open.length} handle(s) are open on it` : '',
      ].filter((s) => s !== '').join(' and ')
      throw new MemweaveError('node', 'busy', `OS '${name}' is in use: ${why}; add -f to remove anyway`)
    }
    for (const connector of chained) await this.removeConnector(connector.name, true)
    this.oses.delete(name)
    this.forget(record.identity)
    record.os.lifetime.end('was removed')
    await record.os.close()
    this.options.tree.events.notify('os')
  }

  async closeAll(): Promise<void> {
    const failed = (what: string) => (err: unknown): void => { this.options.log.warn({ err }, `closing ${what} failed`) }
    for (const name of this.oses.keys()) await this.removeOs(name, true).catch(failed(`os '${name}'`))
    for (const name of this.connectors.keys()) await this.removeConnector(name, true).catch(failed(`connector '${name}'`))
  }

  /** Counts an object against the client whose request creates it (none for startup objects and peers). */
  private chargeClient(): string | undefined {
    const client = currentClient()
    if (client === undefined) return undefined
    const count = this.createdBy.get(client) ?? 0
    checkCap(count, this.options.limits.maxObjectsPerClient, 'maxObjectsPerClient', 'this connection created the most objects one client may')
    this.createdBy.set(client, count + 1)
    return client
  }

  private unchargeClient(client: string | undefined): void {
    if (client === undefined) return
    const left = (this.createdBy.get(client) ?? 0) - 1
    if (left > 0) this.createdBy.set(client, left)
    else this.createdBy.delete(client)
  }

  private forget(identity: string): void {
    this.unchargeClient(this.creators.get(identity))
    this.creators.delete(identity)
  }

  private pendingOf(what: 'connector' | 'os'): number {
    let n = 0
    for (const key of this.pending) if (key.startsWith(`${what}:`)) n++
    return n
  }

  /** Reserves a name while its object is being created, so two concurrent creates cannot both win. */
  private claim(name: string, what: 'connector' | 'os', map: ReadonlyMap<string, unknown>): void {
    if (map.has(name) || this.pending.has(`${what}:${name}`)) {
      throw new MemweaveError('node', 'already_exists', `${what === 'os' ? 'an OS' : 'a connector'} named '${name}' already exists`)
    }
    this.pending.add(`${what}:${name}`)
  }
}
