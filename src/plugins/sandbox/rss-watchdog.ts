/**
 * Watches a sandboxed plugin's resident memory. V8's heap cap does not
 * cover buffers and other memory outside the heap, so this polls
 * /proc/PID/statm and reports when the plugin grows past its limit; the
 * run then kills it. It also finds the plugin's node process, which is the
 * launcher's forked child (init of its pid namespace).
 */
import { readFile } from 'node:fs/promises'
import type { Logger } from 'pino'

const PAGE_BYTES = 4096

export class RssWatchdog {
  /** The plugin's node process, once found. */
  nodePid: number | undefined
  private readonly timer: NodeJS.Timeout

  constructor(
    private readonly launcherPid: number | undefined,
    private readonly limitMb: number,
    intervalMs: number,
    private readonly exceeded: (reason: string) => void,
    private readonly log: Logger,
  ) {
    this.timer = setInterval(() => { this.check().catch((err: unknown) => this.log.debug({ err }, 'plugin memory check failed')) }, intervalMs)
    this.timer.unref()
  }

  stop(): void {
    clearInterval(this.timer)
  }

  /** Finds the node process: the launcher's forked child (it exists once the plugin has said it is ready). */
  async findNodePid(): Promise<number | undefined> {
    if (this.nodePid !== undefined || this.launcherPid === undefined) return this.nodePid
    // Unreadable means the launcher already exited: there is nothing to find.
    const children = await readFile(`/proc/${this.launcherPid}/task/${this.launcherPid}/children`, 'utf8').catch(() => '')
    const first = Number(children.trim().split(/\s+/)[0])
    if (Number.isInteger(first) && first > 0) this.nodePid = first
    return this.nodePid
  }

  private async check(): Promise<void> {
    if (await this.findNodePid() === undefined) return
    // Unreadable means the plugin already exited; its run notices through 'close'.
    const statm = await readFile(`/proc/${this.nodePid}/statm`, 'utf8').catch(() => undefined)
    const residentPages = Number(statm?.split(' ')[1])
    if (!Number.isFinite(residentPages)) return
    const residentMb = (residentPages * PAGE_BYTES) / (1024 * 1024)
    if (residentMb > this.limitMb) this.exceeded(`memory limit: resident ${Math.round(residentMb)} MiB > ${this.limitMb} MiB`)
  }
}
