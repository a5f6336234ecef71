/**
 * A loaded user plugin: the backend its mappings call, and the supervisor
 * of its runs. Each call grants the plugin one object under a fresh token
 * (revoked when the call or its stream ends). A run that dies is restarted
 * with exponential backoff; meanwhile its leaves fail with a clear
 * "plugin X is not running: crashed (…), restarting in N s".
 */
import type { Logger } from 'pino'
import { MemweaveError, isRecord, toMemweaveError } from '../../errors/index.js'
import type { Lifetime } from '../../tree/index.js'
import { validateManifest } from '../manifest-check.js'
import type { ObjectDescriptor, PluginManifest } from '../plugin-api.js'
import type { ChunkSource, LeafOutput, PluginBackend, PluginTarget, ProgressSink } from '../plugin-backend.js'
import { Grants, serveCallback } from './grants.js'
import type { LaunchPlan } from './launch-plan.js'
import { PluginRun } from './plugin-run.js'
import type { RunOptions } from './plugin-run.js'
import type { ExitInfo, RunLimits } from './run-limits.js'
import { PULL_BYTES } from './runtime/channel.js'

export interface Backoff {
  readonly initialMs: number
  readonly maxMs: number
  /** A run that lasted this long resets the backoff. */
  readonly stableMs: number
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 1000, maxMs: 30_000, stableMs: 60_000 }

export interface UserPluginOptions {
  /** The file the user loaded, for listings. */
  readonly path: string
  /** Its bundle in the daemon's private folder (each run gets it over its pipe). */
  readonly bundle: string
  readonly plan: LaunchPlan
  readonly limits: RunLimits
  readonly backoff: Backoff
  readonly log: Logger
  /** The daemon allows writes; the plugin also needs needsWrite. */
  readonly daemonAllowsWrite: boolean
  /** Called after a restart (the new run knows nothing of the old one's state). */
  readonly onRestart?: () => void
}

export interface PluginSummary {
  readonly name: string
  readonly version: string
  readonly builtin: boolean
  readonly attachesTo: string
  readonly filter: PluginManifest['filter']
  readonly leaves: readonly string[]
  readonly description: string
  readonly needsWrite: boolean
  readonly path?: string
  readonly state?: 'running' | 'restarting' | 'stopped'
  readonly pid?: number
  readonly restarts?: number
  readonly lastExit?: string
  readonly writesAllowed?: boolean
}


export class UserPlugin implements PluginBackend {
  /** Each run serves callbacks from its own grants, so a token never outlives the run it was issued to. */
  private readonly grantsOf = new WeakMap<PluginRun, Grants>()
  private run: PluginRun | undefined
  private stopped: string | undefined
  private lastExit: ExitInfo | undefined
  private restartAt = 0
  private restartTimer: NodeJS.Timeout | undefined
  private crashes = 0
  private restarts = 0

  private constructor(readonly manifest: PluginManifest, private readonly options: UserPluginOptions) {}

  /** Starts the plugin and checks its manifest; fails (and leaves nothing running) if either goes wrong. */
  static async load(options: UserPluginOptions): Promise<UserPlugin> {
    const label = { name: options.path }
    const grants = new Grants()
    const run = await PluginRun.start(UserPlugin.runOptions(options, label, grants))
    let manifest: PluginManifest
    try {
      manifest = validateManifest(run.manifest)
    } catch (err) {
      run.kill('its manifest was refused')
      await run.exited
      throw toMemweaveError(err, 'plugin', `plugin '${options.path}'`)
    }
    const plugin = new UserPlugin(manifest, options)
    label.name = manifest.name
    plugin.adopt(run, grants)
    return plugin
  }

  private static runOptions(options: UserPluginOptions, label: { name: string }, grants: Grants): RunOptions {
    return {
      get label() { return label.name },
      plan: options.plan,
      bundle: options.bundle,
      limits: options.limits,
      log: options.log,
      onCallback: (op, message) => serveCallback(label.name, grants, options.log, op, message),
    }
  }

  private adopt(run: PluginRun, grants: Grants): void {
    this.run = run
    this.grantsOf.set(run, grants)
    run.exited.then((exit) => this.onExit(run, exit), (err: unknown) => this.options.log.error({ err }, 'plugin exit handling failed'))
  }

  get writesAllowed(): boolean {
    return this.manifest.needsWrite && this.options.daemonAllowsWrite
  }

  generation(): Lifetime {
    return this.current().lifetime
  }

  async read(target: PluginTarget): Promise<LeafOutput> {
    const { run, grants, token } = this.grant(target)
    let result: unknown
    try {
      result = await run.call('open', { token, object: target.access.descriptor, leaf: target.leaf, ...this.childOf(target) })
    } catch (err) {
      grants.revoke(token)
      throw err
    }
    if (isRecord(result) && result['bytes'] instanceof Uint8Array) {
      grants.revoke(token)
      return { bytes: result['bytes'] }
    }
    const stream = isRecord(result) ? result['stream'] : undefined
    if (typeof stream !== 'number') {
      grants.revoke(token)
      run.kill(`protocol violation: 'open' answered neither bytes nor a stream`)
      throw new MemweaveError('plugin', 'protocol', `plugin '${this.manifest.name}' answered an open with neither bytes nor a stream`)
    }
    const source: ChunkSource = {
      next: async () => {
        const pulled = await run.call('pull', { stream, maxBytes: PULL_BYTES })
        if (isRecord(pulled) && pulled['chunk'] instanceof Uint8Array) return pulled['chunk']
        grants.revoke(token)
        if (isRecord(pulled) && pulled['done'] === true) return undefined
        throw new MemweaveError('plugin', 'protocol', `plugin '${this.manifest.name}' answered a pull with neither a chunk nor done`)
      },
      close: async () => {
        grants.revoke(token)
        if (run.running) await run.call('close', { stream }).catch((err: unknown) => this.options.log.debug({ err }, 'closing a plugin stream failed'))
      },
    }
    return { stream: source }
  }

  /** A cancel (signal) reaches the plugin process: the call fails as 'cancelled' and the handler's ctx.signal aborts. */
  async rpc(target: PluginTarget, request: unknown, progress: ProgressSink, signal?: AbortSignal): Promise<unknown> {
    const { run, grants, token } = this.grant(target)
    try {
      return await run.call('rpc', { token, object: target.access.descriptor, leaf: target.leaf, ...this.childOf(target), request }, progress, signal)
    } finally {
      grants.revoke(token)
    }
  }

  async write(target: PluginTarget, offset: bigint, data: Uint8Array): Promise<void> {
    const { run, grants, token } = this.grant(target)
    try {
      await run.call('write', { token, object: target.access.descriptor, leaf: target.leaf, offset, data })
    } finally {
      grants.revoke(token)
    }
  }

  async list(target: PluginTarget): Promise<string[]> {
    const { run, grants, token } = this.grant(target)
    try {
      const names = await run.call('list', { token, object: target.access.descriptor, leaf: target.leaf })
      if (!Array.isArray(names) || names.length > 10_000 || !names.every((n) => typeof n === 'string')) {
        throw new MemweaveError('plugin', 'protocol', `plugin '${this.manifest.name}' listed '${target.leaf}' as something other than up to 10000 names`)
      }
      return names
    } finally {
      grants.revoke(token)
    }
  }

  /** Tells the plugin an object appeared or went away (dropped while it is not running). */
  notify(event: 'appeared' | 'gone', object: ObjectDescriptor): void {
    if (this.run?.running === true) this.run.notify({ op: 'event', event, object })
  }

  /** Stops for good (plugin rm, daemon shutdown). */
  async stop(reason: string): Promise<void> {
    this.stopped = reason
    clearTimeout(this.restartTimer)
    const run = this.run
    if (run?.running === true) {
      run.kill(reason, true)
      await run.exited
    }
  }

  summary(): PluginSummary {
    const { manifest } = this
    const running = this.run?.running === true
    return {
      name: manifest.name, version: manifest.version, builtin: false, attachesTo: manifest.attachesTo, filter: manifest.filter,
      leaves: manifest.leaves.map((l) => (l.branch ? `${l.name}/` : l.name)), description: manifest.description, needsWrite: manifest.needsWrite,
      path: this.options.path,
      state: this.stopped !== undefined ? 'stopped' : running ? 'running' : 'restarting',
      ...(running && this.run?.pid !== undefined ? { pid: this.run.pid } : {}),
      restarts: this.restarts,
      ...(this.lastExit === undefined ? {} : { lastExit: this.lastExit.reason }),
      writesAllowed: this.writesAllowed,
    }
  }

  private childOf(target: PluginTarget): { child?: string } {
    return target.child === undefined ? {} : { child: target.child }
  }

  private current(): PluginRun {
    if (this.run?.running === true && this.stopped === undefined) return this.run
    throw new MemweaveError('plugin', 'disconnected', this.notRunning())
  }

  private notRunning(): string {
    const name = this.manifest.name
    if (this.stopped !== undefined) return `plugin '${name}' is not running: ${this.stopped}`
    const seconds = Math.max(0, Math.ceil((this.restartAt - Date.now()) / 1000))
    return `plugin '${name}' is not running: ${this.lastExit?.reason ?? 'stopped'}, ${seconds > 0 ? `restarting in ${seconds} s` : 'restarting now'}`
  }

  private grant(target: PluginTarget): { run: PluginRun; grants: Grants; token: string } {
    const run = this.current()
    const grants = this.grantsOf.get(run)
    if (grants === undefined) throw new MemweaveError('plugin', 'internal', `plugin '${this.manifest.name}': a run without grants`)
    return { run, grants, token: grants.issue({ access: target.access, allowWrite: this.writesAllowed }) }
  }

  private onExit(run: PluginRun, exit: ExitInfo): void {
    this.grantsOf.get(run)?.revokeAll()
    if (this.stopped !== undefined || run !== this.run) return
    this.lastExit = exit
    if (Date.now() - run.startedAt > this.options.backoff.stableMs) this.crashes = 0
    this.scheduleRestart()
  }

  private scheduleRestart(): void {
    this.crashes++
    const delay = Math.min(this.options.backoff.maxMs, this.options.backoff.initialMs * 2 ** (this.crashes - 1))
    this.restartAt = Date.now() + delay
    this.options.log.warn({ plugin: this.manifest.name, exit: this.lastExit?.reason, delayMs: delay },
      `plugin '${this.manifest.name}' is not running: ${this.lastExit?.reason ?? 'stopped'}; restarting in ${Math.ceil(delay / 1000)} s`)
    this.restartTimer = setTimeout(() => { this.restart().catch((err: unknown) => this.options.log.error({ err }, 'plugin restart failed')) }, delay)
    this.restartTimer.unref()
  }

  private async restart(): Promise<void> {
    if (this.stopped !== undefined) return
    const grants = new Grants()
    const label = { name: this.manifest.name }
    let run: PluginRun
    try {
      run = await PluginRun.start(UserPlugin.runOptions(this.options, label, grants))
      const manifest = validateManifest(run.manifest)
      if (JSON.stringify(manifest) !== JSON.stringify(this.manifest)) {
        run.kill('its manifest changed across a restart')
        await this.stop(`its manifest changed across a restart (it was reloaded from the copy taken at load, so this is the plugin's own doing)`)
        return
      }
    } catch (err) {
      this.lastExit = { code: null, signal: null, reason: `failed to restart: ${toMemweaveError(err, 'plugin', 'restart').message}` }
      this.scheduleRestart()
      return
    }
    if (this.stopped !== undefined) { run.kill(this.stopped); return }
    this.restarts++
    this.adopt(run, grants)
    this.options.onRestart?.()
    this.options.log.info({ plugin: this.manifest.name, pid: run.pid, restarts: this.restarts }, `plugin '${this.manifest.name}' restarted`)
  }
}
