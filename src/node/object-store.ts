/**
 * The named connectors and OSs of one node, with the rules for creating and
 * removing them: names unique, chain targets must exist, and removing
 * something still open or depended upon is refused unless forced.
 */
import type { Logger } from 'pino'
import type { Connector } from '../connectors/index.js'
import { MemweaveError, toMemweaveError } from '../errors/index.js'
import type { OsInstance } from '../os/index.js'
import { Lifetime } from '../tree/index.js'
import type { CreateLine, KindArgs, Tree } from '../tree/index.js'
import type { ConnectorKinds, OsKinds } from './kind-registry.js'

export interface ConnectorRecord {
  readonly name: string
  readonly kind: string
  readonly args: KindArgs
  readonly chainOn: string | undefined
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
  /** Allowed roots for client-named connector files (ConnectorContext.fileRoots). */
  readonly fileRoots?: readonly string[]
}

export class ObjectStore {
  readonly connectors = new Map<string, ConnectorRecord>()
  readonly oses = new Map<string, OsRecord>()
  private serial = 0
  private readonly pending = new Set<string>()

  constructor(private readonly options: StoreOptions) {}

  async createConnector(line: CreateLine, trusted = false): Promise<ConnectorRecord> {
    const { name } = line
    this.claim(name, 'connector', this.connectors)
    try {
      const kind = this.options.connectorKinds.get(line.kind)
      let parentLifetime = this.options.rootLifetime
      if (line.chainOn !== undefined) {
        const os = this.oses.get(line.chainOn)
        if (os === undefined) throw new MemweaveError('node', 'not_found', `connector '${name}': no OS named '${line.chainOn}' to chain on`)
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
        name, kind: line.kind, args: line.args, chainOn: line.chainOn, connector,
        identity: `connector:${name}#${++this.serial}`, createdAt: new Date(),
      }
      this.connectors.set(name, record)
      this.options.log.info({ connector: name, kind: line.kind, ms: Math.round(performance.now() - started) }, 'connector created')
      this.options.tree.events.notify('connector')
      return record
    } finally {
      this.pending.delete(`connector:${name}`)
    }
  }

  async createOs(line: CreateLine): Promise<OsRecord> {
    const { name } = line
    this.claim(name, 'os', this.oses)
    try {
      const kind = this.options.osKinds.get(line.kind)
      let connector: ConnectorRecord | undefined
      if (line.chainOn !== undefined) {
        connector = this.connectors.get(line.chainOn)
        if (connector === undefined) throw new MemweaveError('node', 'not_found', `os '${name}': no connector named '${line.chainOn}' (see connector/)`)
      } else if (kind.needsConnector) {
        throw new MemweaveError('node', 'invalid_argument', `os '${name}': kind '${line.kind}' needs a connector: '${name} -c CONNECTOR ${line.kind}'`)
      }
      const started = performance.now()
      const os = await kind.create(line.args, connector?.connector, {
        allowWrite: this.options.allowWrite,
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
      this.options.log.info({ os: name, kind: line.kind, ms: Math.round(openMs) }, 'os created')
      this.options.tree.events.notify('os')
      return record
    } finally {
      this.pending.delete(`os:${name}`)
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
    record.connector.lifetime.end('was removed')
    await record.connector.close()
    this.options.tree.events.notify('connector')
  }

  async removeOs(name: string, force: boolean): Promise<void> {
    const record = this.oses.get(name)
    if (record === undefined) throw new MemweaveError('node', 'not_found', `no OS named '${name}'`)
    const chained = [...this.connectors.values()].filter((c) => c.chainOn === name)
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
    record.os.lifetime.end('was removed')
    await record.os.close()
    this.options.tree.events.notify('os')
  }

  async closeAll(): Promise<void> {
    const failed = (what: string) => (err: unknown): void => { this.options.log.warn({ err }, `closing ${what} failed`) }
    for (const name of [...this.oses.keys()]) await this.removeOs(name, true).catch(failed(`os '${name}'`))
    for (const name of [...this.connectors.keys()]) await this.removeConnector(name, true).catch(failed(`connector '${name}'`))
  }

  /** Reserves a name while its object is being created, so two concurrent creates cannot both win. */
  private claim(name: string, what: 'connector' | 'os', map: ReadonlyMap<string, unknown>): void {
    if (map.has(name) || this.pending.has(`${what}:${name}`)) {
      throw new MemweaveError('node', 'already_exists', `${what === 'os' ? 'an OS' : 'a connector'} named '${name}' already exists`)
    }
    this.pending.add(`${what}:${name}`)
  }
}
