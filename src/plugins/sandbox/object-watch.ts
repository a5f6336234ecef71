/**
 * Events for plugins that subscribe (they define onEvent): the objects
 * their filter admits are listed on a timer and compared with the last
 * listing; new ones are reported 'appeared', missing ones 'gone'. The
 * first listing reports every object present. Processes come from every
 * OS's process list; modules are kernel modules (per-process images are
 * too many to poll). A process's features are filled in only when the
 * filter asks for features (that needs the live object, one lookup each).
 */
import type { Logger } from 'pino'
import type { PluginHostNode } from './host-node.js'
import { connectorAccess, descriptorKey, osAccess, processAccess } from '../object-access.js'
import { compileFilter } from '../object-filter.js'
import type { ObjectDescriptor, PluginManifest } from '../plugin-api.js'

export type ObjectEventSink = (event: 'appeared' | 'gone', object: ObjectDescriptor) => void

export const DEFAULT_EVENT_INTERVAL_MS = 1000

export class ObjectWatch {
  private known = new Map<string, ObjectDescriptor>()
  private timer: NodeJS.Timeout | undefined
  private stopped = false
  private unlistable = false
  private readonly admits: (d: ObjectDescriptor) => boolean
  /** The filter without features: features need the live object, so they are checked only for candidates. */
  private readonly admitsCheaply: (d: ObjectDescriptor) => boolean

  constructor(
    private readonly node: PluginHostNode,
    private readonly manifest: PluginManifest,
    private readonly sink: ObjectEventSink,
    private readonly log: Logger,
    private readonly intervalMs = DEFAULT_EVENT_INTERVAL_MS,
  ) {
    this.admits = compileFilter(manifest.filter)
    this.admitsCheaply = compileFilter({ ...manifest.filter, features: [] })
  }

  start(): void {
    this.schedule(0)
  }

  /** Forgets what was reported, so the next poll reports every present object again (after a plugin restart). */
  reset(): void {
    this.known = new Map()
  }

  stop(): void {
    this.stopped = true
    clearTimeout(this.timer)
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return
    this.timer = setTimeout(() => {
      this.poll()
        .catch((err: unknown) => this.log.debug({ plugin: this.manifest.name, err }, 'plugin event poll failed'))
        .finally(() => this.schedule(this.intervalMs))
    }, delayMs)
    this.timer.unref()
  }

  private async poll(): Promise<void> {
    this.unlistable = false
    const now = new Map<string, ObjectDescriptor>()
    for (const descriptor of await this.objects()) if (this.admits(descriptor)) now.set(descriptorKey(descriptor), descriptor)
    // A partial listing would report live objects as gone: wait for a whole one.
    if (this.stopped || this.unlistable) return
    for (const [key, descriptor] of now) if (!this.known.has(key)) this.sink('appeared', descriptor)
    for (const [key, descriptor] of this.known) if (!now.has(key)) this.sink('gone', descriptor)
    this.known = now
  }

  /** A listing of one OS; an OS that cannot list now is skipped this round (its objects do not count as gone). */
  private async listed<T>(osName: string, listing: Promise<T[]>): Promise<T[]> {
    try {
      return await listing
    } catch (err) {
      this.log.debug({ os: osName, err }, 'listing for plugin events failed')
      this.unlistable = true
      return []
    }
  }

  private async objects(): Promise<ObjectDescriptor[]> {
    const { store } = this.node
    switch (this.manifest.attachesTo) {
      case 'connector': return [...store.connectors.values()].map((r) => connectorAccess({ name: r.name, kind: r.kind, connector: r.connector }).descriptor)
      case 'os': return [...store.oses.values()].map((r) => osAccess({ name: r.name, kind: r.kind, os: r.os, openMs: r.openMs, connectorName: r.connectorName }).descriptor)
      case 'module': {
        const out: ObjectDescriptor[] = []
        for (const r of store.oses.values()) {
          for (const m of await this.listed(r.name, r.os.kernelModules())) {
            out.push({ kind: 'module', osName: r.name, osKind: r.kind, pid: undefined, name: m.name, base: m.base, sizeBytes: m.sizeBytes, path: m.path, features: [] })
          }
        }
        return out
      }
      case 'process': {
        const out: ObjectDescriptor[] = []
        const needsObject = (this.manifest.filter.features ?? []).length > 0
        for (const r of store.oses.values()) {
          for (const ref of await this.listed(r.name, r.os.processes())) {
            const cheap: ObjectDescriptor = { kind: 'process', osName: r.name, osKind: r.kind, pid: ref.pid, ppid: ref.ppid, name: ref.name, startTime: ref.startTime, features: [] }
            if (!needsObject) { out.push(cheap); continue }
            if (!this.admitsCheaply(cheap)) continue
            const process = await r.os.process(ref.pid).catch((err: unknown) => { this.log.debug({ err, pid: ref.pid }, 'process lookup failed'); return undefined })
            if (process !== undefined) out.push(processAccess({ osName: r.name, osKind: r.kind, os: r.os, process }).descriptor)
          }
        }
        return out
      }
    }
  }
}
