/**
 * One run of a sandboxed plugin: the child process, the framed msgpack
 * pipe on its fd 3, calls with timeouts, the door callbacks come in
 * through, an RSS watchdog, and the exit. A run never restarts itself
 * (UserPlugin does, with backoff); everything it kills it logs.
 *
 *   call(op) ──frame──▶ child ──callback──▶ onCallback (grant checked) ──reply──▶ child ──reply──▶ call resolves
 *   timeout: idle (restarted by progress/callbacks) and absolute; then a ping: no answer = hung = killed
 */
import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import type { ChildProcess } from 'node:child_process'
import { Duplex } from 'node:stream'
import type { Logger } from 'pino'
import { MemweaveError, isErrorKind, toMemweaveError } from '../../errors/index.js'
import { decodeMessage, encodeMessage } from '../../net/index.js'
import { Lifetime } from '../../tree/index.js'
import type { ProgressSink } from '../plugin-backend.js'
import type { LaunchPlan } from './launch-plan.js'
import { parsePluginMessage } from './plugin-messages.js'
import type { CallbackOp, ChannelError, ChannelReply, HostCallBodies, HostCallOp, HostNotice, PluginNotice } from './runtime/channel.js'
import { FrameDecoder, frameOf } from './runtime/frames.js'
import { OutputLog } from './output-log.js'
import { RssWatchdog } from './rss-watchdog.js'
import { MAX_CALLBACKS_IN_FLIGHT } from './run-limits.js'
import type { ExitInfo, RunLimits } from './run-limits.js'
import { closingLaunch, inheritableFds } from './leaked-fds.js'

export interface RunOptions {
  /** Plugin name (or file, before the manifest is known) for messages and logs. */
  readonly label: string
  readonly plan: LaunchPlan
  /** The plugin's bundle (in the daemon's private folder), sent to the process over its pipe. */
  readonly bundle: string
  readonly limits: RunLimits
  readonly log: Logger
  /** Serves one callback; a thrown error becomes the error reply. */
  readonly onCallback: (op: CallbackOp, message: Record<string, unknown>) => Promise<unknown>
}

interface PendingCall {
  readonly op: HostCallOp
  readonly token: string | undefined
  readonly resolve: (value: unknown) => void
  readonly reject: (error: MemweaveError) => void
  readonly progress: ProgressSink | undefined
  idle: NodeJS.Timeout | undefined
  hard: NodeJS.Timeout | undefined
}


function channelError(err: unknown): ChannelError {
  const error = toMemweaveError(err, 'plugin', 'callback failed')
  return { kind: error.kind, message: error.message }
}

export class PluginRun {
  readonly lifetime: Lifetime
  readonly exited: Promise<ExitInfo>
  readonly startedAt = Date.now()
  /** The manifest as the plugin sent it (unchecked). */
  manifest: unknown
  private readonly child: ChildProcess
  private readonly pipe: Duplex
  private readonly decoder = new FrameDecoder()
  private readonly pending = new Map<number, PendingCall>()
  private readonly output: OutputLog
  private nextId = 1
  private readonly watchdog: RssWatchdog
  private killReason: string | undefined
  private pinging = false
  private callbacksInFlight = 0
  private readyWaiter: { resolve: () => void; reject: (e: MemweaveError) => void } | undefined
  private exitInfo: ExitInfo | undefined

  private constructor(private readonly options: RunOptions) {
    this.lifetime = new Lifetime(`plugin '${options.label}'`)
    this.output = new OutputLog(options.log, options.label)
    const launch = closingLaunch(options.plan.command, options.plan.args, inheritableFds())
    this.child = spawn(launch.command, launch.args, { stdio: ['ignore', 'pipe', 'pipe', 'pipe'], env: {}, cwd: '/' })
    const pipe = this.child.stdio[3]
    if (!(pipe instanceof Duplex)) throw new MemweaveError('plugin', 'internal', 'no pipe to the plugin process')
    this.pipe = pipe
    this.child.stdout?.on('data', (chunk: Buffer) => this.output.write('stdout', chunk))
    this.child.stderr?.on('data', (chunk: Buffer) => this.output.write('stderr', chunk))
    this.pipe.on('data', (chunk: Buffer) => this.receive(chunk))
    this.pipe.on('error', (err) => this.options.log.debug({ plugin: options.label, err: err.message }, 'plugin pipe error'))
    this.exited = new Promise((resolve) => {
      this.child.on('error', (err) => this.kill(`could not start: ${err.message}`))
      this.child.on('close', (code, signal) => resolve(this.finish(code, signal)))
    })
    this.watchdog = new RssWatchdog(this.child.pid, options.limits.rssLimitMb, options.limits.watchdogIntervalMs, (reason) => this.kill(reason), options.log)
  }

  /** Starts a run and waits for the plugin's manifest; fails with the plugin's own reason when it cannot load. */
  static async start(options: RunOptions): Promise<PluginRun> {
    // Read before the process starts: a bundle that is gone fails the start, not the run.
    const source = await readFile(options.bundle, 'utf8').catch((err: unknown) => { throw toMemweaveError(err, 'plugin', `plugin '${options.label}': cannot read its bundle`) })
    const run = new PluginRun(options)
    run.send({ op: 'load', source })
    const ready = new Promise<void>((resolve, reject) => { run.readyWaiter = { resolve, reject } })
    const timer = setTimeout(() => run.kill(`did not start within ${options.limits.startTimeoutMs} ms`), options.limits.startTimeoutMs)
    try {
      await ready
      await run.watchdog.findNodePid()
      return run
    } catch (err) {
      run.kill('failed to start', true)
      await run.exited
      throw err
    } finally {
      clearTimeout(timer)
    }
  }

  get pid(): number | undefined {
    return this.watchdog.nodePid ?? this.child.pid
  }

  get running(): boolean {
    return this.exitInfo === undefined
  }

  /**
   * Calls the plugin. `signal` (the client's cancel): the call fails at once as 'cancelled' and the
   * plugin is told, so the handler's ctx.signal aborts; a plugin that goes on regardless only
   * wastes its own time (its late answer is dropped).
   */
  call<K extends HostCallOp>(op: K, body: HostCallBodies[K], progress?: ProgressSink, signal?: AbortSignal): Promise<unknown> {
    if (this.exitInfo !== undefined) return Promise.reject(this.stoppedError(op))
    if (signal?.aborted === true) return Promise.reject(this.cancelledError(op))
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      const token = 'token' in body && typeof body.token === 'string' ? body.token : undefined
      const onAbort = (): void => this.cancel(id)
      const call: PendingCall = {
        op, token, progress, idle: undefined, hard: undefined,
        resolve: (value) => { signal?.removeEventListener('abort', onAbort); resolve(value) },
        reject: (error) => { signal?.removeEventListener('abort', onAbort); reject(error) },
      }
      this.pending.set(id, call)
      this.arm(id, call)
      call.hard = setTimeout(() => this.timeout(id, `did not finish '${op}' within ${this.options.limits.maxCallMs} ms`), this.options.limits.maxCallMs)
      signal?.addEventListener('abort', onAbort, { once: true })
      this.send({ id, op, ...body })
    })
  }

  private cancelledError(op: string): MemweaveError {
    return new MemweaveError('plugin', 'cancelled', `plugin '${this.options.label}': '${op}' cancelled by the caller`)
  }

  /** The caller gave up on a call: it fails now, and the plugin's handler sees its signal abort. */
  private cancel(id: number): void {
    const call = this.settle(id)
    if (call === undefined) return
    call.reject(this.cancelledError(call.op))
    this.notify({ op: 'cancel', call: id })
  }

  notify(notice: HostNotice): void {
    if (this.exitInfo === undefined) this.send(notice)
  }

  /**
   * Kills the plugin process (SIGKILL; the pid namespace takes anything it
   * started with it). `expected` stops (removal, shutdown) log at info, the
   * rest are containment events.
   */
  kill(reason: string, expected = false): void {
    if (this.exitInfo !== undefined) return
    if (this.killReason === undefined) {
      this.killReason = reason
      const fields = { plugin: this.options.label, pid: this.pid, reason }
      if (expected) this.options.log.info(fields, `plugin '${this.options.label}' stopped: ${reason}`)
      else this.options.log.warn(fields, `plugin '${this.options.label}' killed: ${reason}`)
    }
    for (const pid of [this.watchdog.nodePid, this.child.pid]) {
      if (pid === undefined) continue
      try {
        process.kill(pid, 'SIGKILL')
      } catch (err) {
        if (!(err instanceof Error && 'code' in err && err.code === 'ESRCH')) this.options.log.warn({ err, pid }, 'cannot kill plugin process')
      }
    }
  }

  private send(message: unknown): void {
    for (const part of frameOf(encodeMessage(message))) this.pipe.write(part)
  }

  private stoppedError(op: string): MemweaveError {
    return new MemweaveError('plugin', 'disconnected', `plugin '${this.options.label}' stopped while handling '${op}': ${this.exitInfo?.reason ?? this.killReason ?? 'stopped'}`)
  }

  /** (Re)starts the idle timer of a call: progress and callbacks show the plugin is working on it. */
  private arm(id: number, call: PendingCall): void {
    clearTimeout(call.idle)
    call.idle = setTimeout(() => this.timeout(id, `did not answer '${call.op}' within ${this.options.limits.callTimeoutMs} ms`), this.options.limits.callTimeoutMs)
  }

  private settle(id: number): PendingCall | undefined {
    const call = this.pending.get(id)
    if (call === undefined) return undefined
    this.pending.delete(id)
    clearTimeout(call.idle)
    clearTimeout(call.hard)
    return call
  }

  private timeout(id: number, what: string): void {
    const call = this.settle(id)
    if (call === undefined) return
    this.options.log.warn({ plugin: this.options.label, op: call.op }, `plugin '${this.options.label}' ${what}; the call fails`)
    call.reject(new MemweaveError('plugin', 'timeout', `plugin '${this.options.label}' ${what}`))
    this.notify({ op: 'cancel', call: id })
    this.checkAlive()
  }

  /** A plugin that misses a deadline may be stuck in a loop: if it cannot even answer a ping, it is killed. */
  private checkAlive(): void {
    if (this.pinging || this.exitInfo !== undefined) return
    this.pinging = true
    const id = this.nextId++
    const timer = setTimeout(() => {
      this.settle(id)
      this.pinging = false
      this.kill(`hung: it did not answer a ping within ${this.options.limits.pingTimeoutMs} ms after a call timed out`)
    }, this.options.limits.pingTimeoutMs)
    this.pending.set(id, {
      op: 'ping', token: undefined, progress: undefined, idle: undefined, hard: timer,
      resolve: () => { this.pinging = false },
      reject: () => { this.pinging = false },
    })
    this.send({ id, op: 'ping' })
  }

  private receive(chunk: Buffer): void {
    let frames: Uint8Array[]
    try {
      frames = this.decoder.push(chunk)
    } catch (err) {
      this.kill(`protocol violation: ${err instanceof Error ? err.message : String(err)}`)
      return
    }
    for (const frame of frames) {
      let message: unknown
      try {
        message = decodeMessage(frame)
      } catch (err) {
        this.kill(`protocol violation: ${toMemweaveError(err, 'plugin', 'frame').message}`)
        return
      }
      this.dispatch(message)
    }
  }

  private dispatch(value: unknown): void {
    const message = parsePluginMessage(value)
    switch (message.type) {
      case 'violation': this.kill(`protocol violation: ${message.why}`); return
      case 'ignored': return
      case 'reply': this.reply(message.reply); return
      case 'callback': this.callback(message.id, message.op, message.body); return
      case 'notice': this.notice(message.notice)
    }
  }

  private notice(notice: PluginNotice): void {
    if ('event' in notice) {
      if (notice.event === 'ready') {
        if (this.manifest === undefined) this.manifest = notice.manifest
        this.readyWaiter?.resolve()
      } else {
        this.readyWaiter?.reject(new MemweaveError('plugin', 'invalid_argument', `plugin '${this.options.label}' failed to load: ${notice.message}`))
      }
      return
    }
    const call = this.pending.get(notice.call)
    if (call === undefined) return
    this.arm(notice.call, call)
    call.progress?.(notice.fraction, notice.note)
  }

  private reply(reply: ChannelReply): void {
    const call = this.settle(reply.id)
    if (call === undefined) return // answered after its timeout: dropped
    if (!('error' in reply)) { call.resolve(reply.result); return }
    const kind = isErrorKind(reply.error.kind) ? reply.error.kind : 'internal'
    const text = reply.error.message
    this.options.log.warn({ plugin: this.options.label, op: call.op, kind }, `plugin '${this.options.label}' failed '${call.op}': ${text}`)
    call.reject(new MemweaveError('plugin', kind, `plugin '${this.options.label}': ${text}`))
  }

  private callback(id: number, op: CallbackOp, message: Readonly<Record<string, unknown>>): void {
    if (this.callbacksInFlight >= MAX_CALLBACKS_IN_FLIGHT) {
      // A plugin firing callbacks without waiting for answers would queue unbounded work in the daemon.
      if (this.callbacksInFlight === MAX_CALLBACKS_IN_FLIGHT) this.options.log.warn({ plugin: this.options.label }, `plugin '${this.options.label}' refused: more than ${MAX_CALLBACKS_IN_FLIGHT} callbacks in flight`)
      this.send({ id, error: { kind: 'limit', message: `more than ${MAX_CALLBACKS_IN_FLIGHT} callbacks in flight` } })
      return
    }
    this.callbacksInFlight++
    const token = message['token']
    for (const [callId, call] of this.pending) if (call.token !== undefined && call.token === token) this.arm(callId, call)
    this.options.onCallback(op, message)
      .then((result) => ({ id, result }), (err: unknown) => ({ id, error: channelError(err) }))
      .then((reply) => { this.callbacksInFlight--; if (this.exitInfo === undefined) this.send(reply) })
      .catch((err: unknown) => this.kill(`cannot answer its callback: ${toMemweaveError(err, 'plugin', op).message}`))
  }

  private finish(code: number | null, signal: NodeJS.Signals | null): ExitInfo {
    this.watchdog.stop()
    const how = code !== null ? `exit code ${code}` : `signal ${signal ?? '?'}`
    const why = this.output.lastError()
    const reason = this.killReason !== undefined ? `killed (${this.killReason})` : code === 0 ? 'exited' : `crashed (${how}${why === undefined ? '' : `: ${why}`})`
    this.exitInfo = { code, signal, reason }
    this.output.flush()
    this.readyWaiter?.reject(new MemweaveError('plugin', 'invalid_argument', `plugin '${this.options.label}' exited before it was ready: ${reason}${this.output.lastLines()}`))
    for (const id of this.pending.keys()) {
      const call = this.settle(id)
      call?.reject(this.stoppedError(call.op))
    }
    this.lifetime.end(reason)
    this.pipe.destroy()
    return this.exitInfo
  }
}
