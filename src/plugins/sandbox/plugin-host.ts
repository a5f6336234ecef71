/**
 * The daemon's user-plugin host: loads plugin files into sandboxed
 * processes, registers their leaves through the same mapping path as the
 * built-ins (filter = appliesTo, owner = plugin name), removes them, lists
 * them, and serves sys/plugins/{load,rm,list}. One host per node.
 *
 *   load PATH ─▶ checked (roots, regular file, size) and bundled from memory into the private 0700 folder
 *            ─▶ sandboxed run (the bundle sent over its pipe) ─▶ manifest checked
 *            ─▶ name unique? ─▶ pluginMappings(UserPlugin) ─▶ registry.add (a taken leaf name fails the load)
 */
import { rm } from 'node:fs/promises'
import { resolve } from 'node:path'
import { MemweaveError, toMemweaveError } from '../../errors/index.js'
import type { PluginHostNode } from './host-node.js'
import { BUILTIN_PLUGIN_MANIFESTS } from '../builtin-plugins.js'
import type { PluginManifest } from '../plugin-api.js'
import { pluginMappings } from '../plugin-mappings.js'
import { DEFAULT_SANDBOX_LIMITS, planLaunch } from './launch-plan.js'
import type { SandboxLimits } from './launch-plan.js'
import { DEFAULT_EVENT_INTERVAL_MS, ObjectWatch } from './object-watch.js'
import { DEFAULT_RUN_LIMITS } from './run-limits.js'
import type { RunLimits } from './run-limits.js'
import { BundleDir, removeStaleBundleDirs } from './bundle-dir.js'
import { preparePlugin } from './plugin-bundle.js'
import { makeWorkDir, prepareRuntime, removeWorkDir } from './sandbox-files.js'
import type { RuntimeFiles } from './sandbox-files.js'
import { pluginsSysBranch } from './sys-plugins.js'
import { DEFAULT_BACKOFF, UserPlugin } from './user-plugin.js'
import type { Backoff, PluginSummary } from './user-plugin.js'

export interface PluginHostOptions {
  readonly limits?: Partial<RunLimits>
  readonly sandbox?: Partial<SandboxLimits>
  readonly backoff?: Partial<Backoff>
  readonly eventIntervalMs?: number
  /** User plugins loaded at once; more are refused with 'limit'. */
  readonly maxPlugins?: number
  /** Built-in plugins (for listings and name clashes); default: the built-ins of this package. */
  readonly builtins?: readonly PluginManifest[]
  /**
   * Folders plugin files must lie in (a daemon sets them: serve --plugin-root, docs/access.md);
   * undefined: any path (an in-process node, whose caller has its own privileges).
   */
  readonly roots?: readonly string[]
  /** Where the private bundle folder is made; default: the runtime state directory. */
  readonly bundleBase?: string
}

/** Per-plugin overrides (the load line's key=value words). */
export interface LoadOptions {
  readonly callTimeoutMs?: number
  readonly heapLimitMb?: number
  readonly rssLimitMb?: number
}

interface Loaded {
  readonly plugin: UserPlugin
  readonly unregister: (() => void)[]
  readonly watch: ObjectWatch | undefined
  readonly bundle: string
}

export class PluginHost {
  private readonly plugins = new Map<string, Loaded>()
  private files: Promise<{ workDir: string; runtime: RuntimeFiles; bundles: BundleDir }> | undefined
  private queue: Promise<unknown> = Promise.resolve()
  private closed = false

  constructor(readonly node: PluginHostNode, private readonly options: PluginHostOptions = {}) {}

  /** Adds sys/plugins/{load,rm,list} to the node and stops every plugin when the node shuts down. */
  install(): this {
    this.node.extraSys.set('plugins', pluginsSysBranch(this, this.node.lifetime))
    this.node.lifetime.onEnd(() => { this.close().catch((err: unknown) => this.node.log.error({ err }, 'stopping plugins failed')) })
    // Bundles a crashed daemon left behind go now, not only once this one loads a plugin (nothing is created here).
    removeStaleBundleDirs(this.options.bundleBase).catch((err: unknown) => this.node.log.warn({ err }, 'removing stale plugin bundle folders failed'))
    return this
  }

  /** Loads one plugin file; loads run one at a time so names cannot race. */
  load(path: string, options: LoadOptions = {}): Promise<PluginSummary> {
    const run = (): Promise<PluginSummary> => this.loadNow(resolve(path), options)
    const next = this.queue.then(run, run)
    this.queue = next.catch(() => undefined)
    return next
  }

  async remove(name: string): Promise<void> {
    const loaded = this.plugins.get(name)
    if (loaded === undefined) {
      const builtin = this.builtinManifests().some((m) => m.name === name)
      throw new MemweaveError('plugin', builtin ? 'permission' : 'not_found', builtin ? `plugin '${name}' is built in and cannot be removed` : `no user plugin named '${name}'`)
    }
    this.plugins.delete(name)
    for (const unregister of loaded.unregister) unregister()
    loaded.watch?.stop()
    await loaded.plugin.stop('removed')
    await rm(loaded.bundle, { force: true })
    this.node.log.info({ plugin: name }, `plugin '${name}' removed`)
  }

  list(): PluginSummary[] {
    const builtins = this.builtinManifests().map((m): PluginSummary => ({
      name: m.name, version: m.version, builtin: true, attachesTo: m.attachesTo, filter: m.filter,
      leaves: m.leaves.map((l) => (l.branch ? `${l.name}/` : l.name)), description: m.description, needsWrite: m.needsWrite,
    }))
    return [...builtins, ...[...this.plugins.values()].map((l) => l.plugin.summary())]
  }

  /** The private folder of the bundles, once a plugin was loaded (tests check who can read it). */
  async bundleDir(): Promise<string | undefined> {
    return this.files === undefined ? undefined : (await this.files).bundles.path
  }

  /** The loaded user plugin with this name (tests, tools). */
  plugin(name: string): UserPlugin | undefined {
    return this.plugins.get(name)?.plugin
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await Promise.allSettled([...this.plugins.keys()].map((name) => this.remove(name)))
    const files = this.files
    this.files = undefined
    if (files !== undefined) await files.then(async ({ workDir, bundles }) => { await removeWorkDir(workDir); await bundles.remove() }, () => undefined)
  }

  private builtinManifests(): readonly PluginManifest[] {
    return this.options.builtins ?? BUILTIN_PLUGIN_MANIFESTS
  }

  private sandboxFiles(): Promise<{ workDir: string; runtime: RuntimeFiles; bundles: BundleDir }> {
    if (this.files === undefined) {
      this.files = (async () => {
        const bundles = await BundleDir.create(this.options.bundleBase)
        try {
          const workDir = await makeWorkDir()
          return { workDir, runtime: await prepareRuntime(workDir), bundles }
        } catch (err) {
          await bundles.remove()
          throw err
        }
      })()
      this.files.catch(() => { this.files = undefined })
    }
    return this.files
  }

  private async loadNow(path: string, options: LoadOptions): Promise<PluginSummary> {
    if (this.closed) throw new MemweaveError('plugin', 'cancelled', 'the plugin host is shut down')
    const maxPlugins = this.options.maxPlugins ?? DEFAULT_MAX_PLUGINS
    if (this.plugins.size >= maxPlugins) {
      throw new MemweaveError('plugin', 'limit', `the daemon runs the most user plugins it may (${maxPlugins}, the cap; remove some, or raise it with serve --limit maxPlugins=N)`)
    }
    const { runtime, bundles } = await this.sandboxFiles()
    const bundle = await preparePlugin(path, bundles.path, runtime, { roots: this.options.roots })
    try {
      return await this.start(path, bundle, runtime, options)
    } catch (err) {
      await rm(bundle, { force: true })
      throw err
    }
  }

  private async start(path: string, bundle: string, runtime: RuntimeFiles, options: LoadOptions): Promise<PluginSummary> {
    const sandbox: SandboxLimits = { ...DEFAULT_SANDBOX_LIMITS, ...this.options.sandbox, ...(options.heapLimitMb === undefined ? {} : { heapLimitMb: options.heapLimitMb }) }
    const limits: RunLimits = {
      ...DEFAULT_RUN_LIMITS, ...this.options.limits,
      ...(options.callTimeoutMs === undefined ? {} : { callTimeoutMs: options.callTimeoutMs }),
      ...(options.rssLimitMb === undefined ? {} : { rssLimitMb: options.rssLimitMb }),
    }
    const log = this.node.log.child({ component: 'plugins' })
    let watch: ObjectWatch | undefined
    const plugin = await UserPlugin.load({
      path, bundle, plan: planLaunch(runtime, sandbox), limits, backoff: { ...DEFAULT_BACKOFF, ...this.options.backoff }, log,
      daemonAllowsWrite: this.node.options.allowWrite,
      onRestart: () => watch?.reset(),
    })
    const { name } = plugin.manifest
    const taken = this.plugins.has(name) || this.builtinManifests().some((m) => m.name === name)
      || this.node.tree.registry.all().some((m) => m.owner === name)
    if (taken) {
      await plugin.stop('refused: name taken')
      throw new MemweaveError('plugin', 'already_exists', `a plugin named '${name}' is already loaded (see sys/plugins/list)`)
    }
    const unregister: (() => void)[] = []
    try {
      for (const mapping of pluginMappings(plugin)) unregister.push(this.node.tree.registry.add(mapping))
    } catch (err) {
      for (const undo of unregister) undo()
      await plugin.stop('refused: its leaves clash with registered ones')
      const error = toMemweaveError(err, 'plugin', 'registering')
      throw new MemweaveError('plugin', error.kind, `plugin '${name}' cannot be registered: ${error.message}`, { cause: err })
    }
    if (plugin.manifest.events) {
      watch = new ObjectWatch(this.node, plugin.manifest, (event, object) => plugin.notify(event, object), log, this.options.eventIntervalMs ?? DEFAULT_EVENT_INTERVAL_MS)
      watch.start()
    }
    this.plugins.set(name, { plugin, unregister, watch, bundle })
    const summary = plugin.summary()
    log.info({ plugin: name, version: summary.version, path, pid: summary.pid, attachesTo: summary.attachesTo, leaves: summary.leaves },
      `plugin '${name}' ${summary.version} loaded from ${path}`)
    return summary
  }
}

const DEFAULT_MAX_PLUGINS = 64

const hosts = new WeakMap<PluginHostNode, PluginHost>()

/** The node's plugin host, created (and its sys/plugins leaves installed) on first use. */
export function pluginHostFor(node: PluginHostNode, options: PluginHostOptions = {}): PluginHost {
  let host = hosts.get(node)
  if (host === undefined) {
    host = new PluginHost(node, options).install()
    hosts.set(node, host)
  }
  return host
}

/** Loads a user plugin into a node's sandboxed plugin host (creating the host on first use). */
export function loadUserPlugin(node: PluginHostNode, path: string, options: LoadOptions & { host?: PluginHostOptions } = {}): Promise<PluginSummary> {
  return pluginHostFor(node, options.host).load(path, options)
}
