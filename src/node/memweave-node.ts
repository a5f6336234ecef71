/**
 * One memweave node: the tree with its connector/, os/ and sys/ branches,
 * the kinds it can create, and the objects created so far. Frontends reach
 * it through the protocol (or in-process through the same client surface).
 *
 *   connector/{new,rm,NAME/{mem,info,…}}   os/{new,rm,NAME/…}   sys/{info,handles,mappings}
 */
import type { Logger } from 'pino'
import { CONNECTOR_OBJECT } from '../connectors/index.js'
import type { ConnectorKind } from '../connectors/index.js'
import { OS_OBJECT } from '../os/index.js'
import type { OsKind } from '../os/index.js'
import {
  controlLeaf, dynamicBranch, jsonLeaf, Lifetime, mergedBranch, parseCreateLine, parseRemoveLine, staticBranch, Tree,
} from '../tree/index.js'
import type { Branch, Mapping, TreeNode } from '../tree/index.js'
import { KindRegistry } from './kind-registry.js'
import { ObjectStore } from './object-store.js'
import { ProcessEvents } from './process-events.js'
import { resolveNodeLimits } from './node-limits.js'
import type { NodeLimits } from './node-limits.js'
import { MEMWEAVE_VERSION } from '../version.js'

export interface NodeOptions {
  readonly allowWrite: boolean
  readonly log: Logger
  readonly connectorKinds: readonly ConnectorKind[]
  readonly osKinds: readonly OsKind[]
  // Mappings of many object types share one list; each keeps its own type through its `on` kind.
  readonly mappings: readonly Mapping<never>[]
  /** Caps on objects, peers and plugins (node-limits.ts); defaults where unset. */
  readonly limits?: Partial<NodeLimits>
  /**
   * Folders that `file:` paths written to connector/new must lie in (a daemon sets them: docs/access.md);
   * undefined: any path (an in-process node, whose caller has its own privileges).
   */
  readonly fileRoots?: readonly string[]
}

export class MemweaveNode {
  readonly tree: Tree
  readonly store: ObjectStore
  readonly log: Logger
  readonly limits: NodeLimits
  readonly lifetime = new Lifetime('memweave node')
  readonly startedAt = new Date()
  readonly connectorKinds = new KindRegistry<ConnectorKind>('connector')
  readonly osKinds = new KindRegistry<OsKind>('os')
  /** Extra children of the root and of connector/ and os/ (remote peers add theirs here). */
  readonly extraRoot = new Map<string, () => TreeNode>()
  readonly extraConnectorSources: Branch[] = []
  readonly extraOsSources: Branch[] = []
  /** Extra sys/ leaves (peers, plugins add theirs). */
  readonly extraSys = new Map<string, TreeNode>()
  /**
   * Makes a connector named with dots ('b.dump': connector 'dump' of peer 'b') exist here before an
   * OS is created on it with `-c b.dump`; set by the peer layer (src/node/peers/peer-wiring.ts).
   */
  remoteConnectors: ((name: string) => Promise<void>) | undefined
  /** Polls live OSs' process lists while someone watches them (change events for processes). */
  private readonly processEvents: ProcessEvents

  constructor(readonly options: NodeOptions) {
    this.log = options.log
    this.limits = resolveNodeLimits(options.limits)
    this.tree = new Tree({
      allowWrite: options.allowWrite,
      onFilterError: (failure) => {
        this.log.warn({ err: failure.error, mapping: `${failure.objectClass}/${failure.name}`, owner: failure.owner }, `the filter of mapping '${failure.name}' (${failure.owner}) threw; the mapping is hidden`)
      },
    })
    for (const kind of options.connectorKinds) this.connectorKinds.add(kind)
    for (const kind of options.osKinds) this.osKinds.add(kind)
    for (const mapping of options.mappings) this.tree.registry.add(mapping)
    this.store = new ObjectStore({
      tree: this.tree, log: this.log, connectorKinds: this.connectorKinds, osKinds: this.osKinds,
      allowWrite: options.allowWrite, rootLifetime: this.lifetime, limits: this.limits, fileRoots: options.fileRoots,
    })
    this.tree.setRoot(this.buildRoot())
    this.processEvents = new ProcessEvents(this.store, this.tree.events, this.log)
    this.processEvents.start()
  }

  /**
   * Runs one `connector/new` line, e.g. "dump file:/data/vm.elf". `trusted`: the line comes from the daemon's
   * own command line or config, so its paths need not lie under the allowed roots (they are still checked files).
   */
  async newConnector(line: string, trusted = false): Promise<string> {
    const record = await this.store.createConnector(parseCreateLine(line), trusted)
    return `connector '${record.name}' created (${record.kind})`
  }

  /** Runs one `os/new` line; `trusted` as for newConnector (a symbols= file outside the roots). */
  async newOs(line: string, trusted = false): Promise<string> {
    const parsed = parseCreateLine(line)
    const on = parsed.on
    if (on !== undefined && on.includes('.') && !this.store.connectors.has(on)) await this.remoteConnectors?.(on)
    const record = await this.store.createOs(parsed, trusted)
    return `os '${record.name}' created (${record.kind}, ${Math.round(record.openMs)} ms)`
  }

  private buildRoot(): Branch {
    const registry = this.tree.registry
    const localConnectors = dynamicBranch(() => new Map<string, TreeNode>([...this.store.connectors.values()].map((r) => [r.name,
      registry.objectBranch({ class: CONNECTOR_OBJECT, value: { name: r.name, kind: r.kind, connector: r.connector }, identity: r.identity, lifetime: r.connector.lifetime })])))
    const localOses = dynamicBranch(() => new Map<string, TreeNode>([...this.store.oses.values()].map((r) => [r.name,
      registry.objectBranch({
        class: OS_OBJECT,
        value: { name: r.name, kind: r.kind, os: r.os, openMs: r.openMs, connectorName: r.connectorName },
        identity: r.identity,
        lifetime: r.os.lifetime,
      })])))

    const connectorControls = staticBranch({
      new: controlLeaf({
        identity: 'control:connector/new', lifetime: this.lifetime,
        usage: `write a line: NAME [-c OS] KIND[:ARGS]\nkinds:\n  ${this.connectorKinds.usage().join('\n  ')}`,
        run: (line) => this.newConnector(line),
      }),
      rm: controlLeaf({
        identity: 'control:connector/rm', lifetime: this.lifetime,
        usage: 'write a line: NAME [-f]   (-f removes even with open handles or dependent OSs)',
        run: async (line) => {
          const { name, force } = parseRemoveLine(line)
          await this.store.removeConnector(name, force)
          return `connector '${name}' removed`
        },
      }),
    })
    const osControls = staticBranch({
      new: controlLeaf({
        identity: 'control:os/new', lifetime: this.lifetime,
        usage: `write a line: NAME [-c CONNECTOR] KIND[:ARGS]\nkinds:\n  ${this.osKinds.usage().join('\n  ')}`,
        run: (line) => this.newOs(line),
      }),
      rm: controlLeaf({
        identity: 'control:os/rm', lifetime: this.lifetime,
        usage: 'write a line: NAME [-f]',
        run: async (line) => {
          const { name, force } = parseRemoveLine(line)
          await this.store.removeOs(name, force)
          return `os '${name}' removed`
        },
      }),
    })

    const sys = dynamicBranch(() => new Map<string, TreeNode>([
      ['info', jsonLeaf('sys:info', this.lifetime, () => this.sysInfo())],
      ['handles', jsonLeaf('sys:handles', this.lifetime, () => this.tree.handles.summaries())],
      ['mappings', jsonLeaf('sys:mappings', this.lifetime, () => this.tree.registry.all())],
      ...this.extraSys,
    ]))

    return dynamicBranch(() => new Map<string, TreeNode>([
      ['connector', mergedBranch([connectorControls, localConnectors, ...this.extraConnectorSources])],
      ['os', mergedBranch([osControls, localOses, ...this.extraOsSources])],
      ['sys', sys],
      ...[...this.extraRoot].map(([name, make]): [string, TreeNode] => [name, make()]),
    ]))
  }

  sysInfo(): Record<string, unknown> {
    return {
      version: MEMWEAVE_VERSION,
      pid: process.pid,
      startedAt: this.startedAt.toISOString(),
      uptimeSeconds: Math.round((Date.now() - this.startedAt.getTime()) / 1000),
      allowWrite: this.options.allowWrite,
      connectorKinds: this.connectorKinds.names(),
      osKinds: this.osKinds.names(),
      connectors: [...this.store.connectors.keys()],
      oses: [...this.store.oses.keys()],
      openHandles: this.tree.handles.size,
    }
  }

  async close(): Promise<void> {
    this.processEvents.stop()
    await this.store.closeAll()
    this.lifetime.end('node shut down')
  }
}
