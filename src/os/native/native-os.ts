/**
 * The host Linux as an OS: processes are the thread groups under /proc,
 * read through /proc/PID/{stat,status,maps,mem,pagemap,environ,auxv}.
 * The process listing is cached briefly (refresh_ms) because a tree walk
 * asks for it many times; a pid lookup always reads /proc afresh. Process
 * objects are kept per pid while their start time matches, so repeated
 * lookups share one lifetime and one open mem handle.
 */
import { readdir } from 'node:fs/promises'
import { hostname, machine, release, version } from 'node:os'
import type { Logger } from 'pino'
import { toMemweaveError } from '../../errors/index.js'
import { Lifetime } from '../../tree/index.js'
import type { ModuleInfo, OsInstance, ProcessRef } from '../os-model.js'
import { FdPool } from './fd-pool.js'
import { readKernelModules } from './kernel-modules.js'
import { NativeProcess } from './native-process.js'
import { mapLimited, readProcText } from './proc-files.js'
import { parseProcStat, parseProcStatus } from './proc-stat.js'

/** USER_HZ is 100 on every Linux ABI; stat start times count these ticks. */
const CLOCK_TICKS_PER_SECOND = 100
/** Pooled /proc/PID/mem and pinned /proc/PID/stat files; past this the least recently used idle ones close. */
const MAX_POOLED_FILES = 256

export interface NativeOsOptions {
  readonly refreshMs: number
  readonly allowWrite: boolean
  readonly lifetime: Lifetime
  readonly log: Logger
  readonly addressSpaceBytes: bigint
}

export class NativeOs implements OsInstance {
  readonly kind = 'native'
  readonly lifetime: Lifetime
  readonly kernelMemory = undefined
  /** The host kernel's memory is not readable here (that is the kcore connector's job). */
  readonly kernelAddressSpaceBytes = 0n
  private readonly pool = new FdPool(MAX_POOLED_FILES)
  private readonly live = new Map<number, NativeProcess>()
  private listing: { refs: Promise<ProcessRef[]>; at: number } | undefined

  constructor(private readonly options: NativeOsOptions) {
    this.lifetime = options.lifetime
  }

  async info(): Promise<Record<string, unknown>> {
    const stat = await readProcText('/proc/stat')
    const btime = stat === undefined ? undefined : /^btime\s+([0-9]+)/m.exec(stat)?.[1]
    return {
      kind: 'native',
      kernelRelease: release(),
      kernelVersion: version(),
      arch: machine(),
      hostname: hostname(),
      bootTime: btime === undefined ? null : new Date(Number(btime) * 1000).toISOString(),
      clockTicksPerSecond: CLOCK_TICKS_PER_SECOND,
      addressSpaceBytes: this.options.addressSpaceBytes,
      refreshMs: this.options.refreshMs,
      allowWrite: this.options.allowWrite,
      daemonUid: process.getuid?.() ?? null,
      openMemFiles: this.pool.size,
    }
  }

  processes(): Promise<ProcessRef[]> {
    const now = performance.now()
    if (this.listing !== undefined && now - this.listing.at < this.options.refreshMs) return this.listing.refs
    const entry = { refs: this.scan(), at: now }
    this.listing = entry
    entry.refs.catch(() => { if (this.listing === entry) this.listing = undefined }) // a failed scan is not cached
    return entry.refs
  }

  async process(pid: number): Promise<NativeProcess | undefined> {
    const [statText, statusText] = await Promise.all([readProcText(`/proc/${pid}/stat`), readProcText(`/proc/${pid}/status`)])
    if (statText === undefined || statusText === undefined) return this.forget(pid, 'has exited')
    const stat = parseProcStat(statText)
    // /proc/TID exists for every thread too, but only thread-group leaders are processes.
    if (parseProcStatus(statusText).tgid !== pid) return undefined
    const known = this.live.get(pid)
    // Same start time is not enough (a pid can be reused within one clock tick): the object's own check decides.
    if (known !== undefined && known.ref.startTime === stat.startTime && (await known.lifetime.staleReason()) === undefined) return known
    if (known !== undefined) known.lifetime.end(`is gone: pid ${pid} now belongs to another process (start time changed)`)
    const created = new NativeProcess({
      pool: this.pool,
      allowWrite: this.options.allowWrite,
      osLifetime: this.lifetime,
      addressSpaceBytes: this.options.addressSpaceBytes,
      arch: machine(),
      log: this.options.log,
    }, stat)
    this.live.set(pid, created)
    return created
  }

  kernelModules(): Promise<ModuleInfo[]> {
    return readKernelModules()
  }

  refresh(): void {
    this.listing = undefined
  }

  async close(): Promise<void> {
    this.live.clear()
    this.listing = undefined
    await this.pool.closeAll()
  }

  private async scan(): Promise<ProcessRef[]> {
    let names: string[]
    try {
      names = await readdir('/proc')
    } catch (err) {
      throw toMemweaveError(err, 'os', 'cannot list /proc')
    }
    const pids = names.filter((n) => /^[0-9]+$/.test(n)).map(Number)
    const stats = await mapLimited(pids, 64, async (pid) => {
      const text = await readProcText(`/proc/${pid}/stat`)
      return text === undefined ? undefined : parseProcStat(text)
    })
    const refs = stats.filter((s) => s !== undefined).map((s) => ({ pid: s.pid, ppid: s.ppid, name: s.comm, startTime: s.startTime }))
    refs.sort((a, b) => a.pid - b.pid)
    // Forget objects of processes that left the listing; their own check decides, since a
    // process looked up while this scan ran may be missing from it yet alive.
    const present = new Set(refs.map((r) => r.pid))
    const missing = [...this.live.entries()].filter(([pid]) => !present.has(pid))
    await Promise.all(missing.map(async ([pid, known]) => {
      if ((await known.lifetime.staleReason()) !== undefined && this.live.get(pid) === known) this.live.delete(pid)
    }))
    return refs
  }

  private forget(pid: number, reason: string): undefined {
    this.live.get(pid)?.lifetime.end(reason)
    this.live.delete(pid)
    return undefined
  }
}
