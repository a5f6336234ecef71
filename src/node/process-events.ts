/**
 * Process appeared/gone changes for OSs on live sources (a running QEMU
 * guest, the host itself). Nothing in a live guest tells us when a task
 * starts or ends, so while some watch covers `os/NAME/processes` the OS's
 * process list is read on a timer and compared with the last one:
 *
 *   timer ─▶ for each live OS someone watches ─▶ os.processes() ─▶ diff by (pid, start time), then name
 *        ─▶ one bus change `os/NAME/processes` carrying what appeared and went
 *
 * A process seen before under another name ran exec (or renamed itself): that
 * ends the old process (its handles go stale), so it is gone and appears anew.
 *
 * The first listing after nobody watched is only remembered (no burst of
 * "appeared" for everything present); a new watch waits for it (the bus's
 * prepare), so a process that starts after the watch's reply is reported. A listing that fails is skipped, so a
 * torn walk never reports live processes as gone. Walking the list also
 * lets the OS end the lifetimes of exited processes, so their open handles
 * go stale (and 1.2 clients get `stale`) without anyone reading them.
 */
import type { Logger } from 'pino'
import type { ProcessRef } from '../os/index.js'
import type { ChangeBus, ObjectChange } from '../tree/index.js'
import type { ObjectStore, OsRecord } from './object-store.js'

export const PROCESS_POLL_MS = 1000

function keyOf(ref: ProcessRef): string {
  return `${ref.pid}:${ref.startTime}`
}

export class ProcessEvents {
  /** Per OS name: the processes of its last listing, by key. */
  private readonly known = new Map<string, Map<string, ProcessRef>>()
  private timer: NodeJS.Timeout | undefined
  private stopped = false
  private removePreparer: (() => void) | undefined

  constructor(
    private readonly store: ObjectStore,
    private readonly bus: ChangeBus,
    private readonly log: Logger,
    private readonly intervalMs = PROCESS_POLL_MS,
  ) {}

  start(): void {
    this.removePreparer = this.bus.addPreparer((path) => this.prepare(path))
    this.schedule()
  }

  stop(): void {
    this.stopped = true
    clearTimeout(this.timer)
    this.removePreparer?.()
  }

  /** A watch of `path` is coming: the live OSs it covers that have no listing yet get one now. */
  private async prepare(path: string): Promise<void> {
    await Promise.all([...this.store.oses.values()].map(async (record) => {
      const processes = `os/${record.name}/processes`
      const covered = path === '' || processes === path || processes.startsWith(`${path}/`) || path.startsWith(`${processes}/`)
      if (!covered || !this.live(record) || this.known.has(record.name)) return
      try {
        const refs = await record.os.processes()
        if (!this.known.has(record.name)) this.known.set(record.name, new Map(refs.map((ref) => [keyOf(ref), ref])))
      } catch (err) {
        this.log.debug({ os: record.name, err }, 'first process list for change events failed')
      }
    }))
  }

  private schedule(): void {
    if (this.stopped) return
    this.timer = setTimeout(() => { void this.poll().finally(() => this.schedule()) }, this.intervalMs)
    this.timer.unref()
  }

  /** Whether the OS's process list can change under us: no connector (the host), or a connector whose memory is volatile. */
  private live(record: OsRecord): boolean {
    if (record.connectorName === undefined) return true
    return this.store.connectors.get(record.connectorName)?.connector.mem.metadata().volatile === true
  }

  private async poll(): Promise<void> {
    for (const name of this.known.keys()) if (!this.store.oses.has(name)) this.known.delete(name)
    for (const record of this.store.oses.values()) {
      const path = `os/${record.name}/processes`
      if (!this.live(record) || !this.bus.wantsPolled(path)) { this.known.delete(record.name); continue }
      let refs: ProcessRef[]
      try {
        refs = await record.os.processes()
      } catch (err) {
        this.log.debug({ os: record.name, err }, 'process list for change events failed; trying again next round')
        continue
      }
      if (this.stopped || this.store.oses.get(record.name) !== record) continue
      const now = new Map(refs.map((ref) => [keyOf(ref), ref]))
      const before = this.known.get(record.name)
      this.known.set(record.name, now)
      if (before === undefined) continue
      const changes: ObjectChange[] = []
      const describe = (change: 'appeared' | 'gone', ref: ProcessRef): ObjectChange => ({
        change, path: `${path}/by-pid/${ref.pid}`, object: { kind: 'process', pid: ref.pid, ppid: ref.ppid, name: ref.name },
      })
      for (const [key, ref] of before) {
        if (now.has(key)) continue
        // A walk of a running guest can miss a task that is still there: one that is found again is not gone.
        const again = await record.os.process(ref.pid).catch(() => undefined)
        if (again !== undefined && again.ref.startTime === ref.startTime) now.set(key, ref)
        else changes.push(describe('gone', ref))
      }
      for (const [key, ref] of now) {
        const known = before.get(key)
        if (known === undefined) changes.push(describe('appeared', ref))
        // A new name under the same pid and start time: it replaced its program (exec), which ends the old
        // process for handles too (its lifetime's check): gone as it was, appeared as it is now.
        else if (known.name !== ref.name) changes.push(describe('gone', known), describe('appeared', ref))
      }
      if (changes.length > 0) this.bus.notify(path, changes)
    }
  }
}
