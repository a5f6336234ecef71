/**
 * One host process (thread group) seen through /proc/PID. It is pinned to
 * the process it was made for by pid AND start time: its lifetime goes
 * stale when /proc/PID disappears ("has exited") or the pid's start time
 * differs (the pid was reused). Everything read by pid is checked against
 * the start time afterwards, so a reused pid never leaks the new process's
 * data into the old object.
 */
import type { ThreadState } from '../thread-state.js'
import { readNativeThreads } from './native-threads.js'
import { open, readlink } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import type { Logger } from 'pino'
import { MemweaveError, toMemweaveError } from '../../errors/index.js'
import { Lifetime } from '../../tree/index.js'
import type { StaleCheck } from '../../tree/index.js'
import { findElfImages } from '../elf-images.js'
import { parseMaps } from '../leaves/maps-format.js'
import type { MapEntry, ModuleInfo, OsProcess, PhysMapEntry, ProcessInfo, ProcessRef } from '../os-model.js'
import type { FdPool } from './fd-pool.js'
import { readPhysMaps } from './pagemap.js'
import { isGone, preadAt, readProcFile, readProcText } from './proc-files.js'
import { ProcMem } from './proc-mem.js'
import { parseProcStat, parseProcStatus, PF_KTHREAD } from './proc-stat.js'
import type { ProcStat } from './proc-stat.js'

export interface NativeProcessContext {
  readonly pool: FdPool
  readonly allowWrite: boolean
  readonly osLifetime: Lifetime
  readonly addressSpaceBytes: bigint
  readonly arch: string
  readonly log: Logger
}

const STAT_BUFFER_BYTES = 4096
let instances = 0

/**
 * Why the pid no longer names our process, judged by reading /proc/PID/stat
 * by path. `pinnedGone` says our own pinned stat file already failed, so any
 * process now at the pid is another one, even with an equal start time
 * (started within the same clock tick).
 */
async function reasonByPath(pid: number, startTime: bigint, pinnedGone: boolean): Promise<string> {
  const text = await readProcText(`/proc/${pid}/stat`)
  if (text === undefined) return 'has exited'
  const changed = parseProcStat(text).startTime !== startTime
  if (!changed && !pinnedGone) return 'has exited'
  return `is gone: pid ${pid} now belongs to another process${changed ? ' (start time changed)' : ' (started in the same clock tick)'}`
}

/**
 * The stale check of a process known by pid and start time. It keeps
 * /proc/PID/stat open (pooled): that file stays bound to the process it was
 * opened for and fails with ESRCH once it is gone, even if the pid is reused
 * within the same clock tick. When the pool has closed it, the reopen
 * compares start times again.
 */
export function processStaleCheck(pid: number, startTime: bigint, pool: FdPool, poolKey = `${pid}@${startTime}`): StaleCheck {
  const path = `/proc/${pid}/stat`
  const readStat = async (handle: FileHandle): Promise<ProcStat> => {
    const buffer = Buffer.alloc(STAT_BUFFER_BYTES)
    const length = await preadAt(handle.fd, buffer, 0, buffer.length, 0n)
    return parseProcStat(buffer.subarray(0, length).toString('utf8'))
  }
  const openPinned = async (): Promise<FileHandle> => {
    const handle = await open(path, 'r')
    const stat = await readStat(handle).catch(async (err: unknown) => { await handle.close(); throw err })
    if (stat.startTime !== startTime) {
      await handle.close()
      throw new MemweaveError('os', 'stale', await reasonByPath(pid, startTime, false))
    }
    return handle
  }
  return async () => {
    try {
      const stat = await pool.use(`${poolKey}:stat`, openPinned, readStat)
      return stat.startTime === startTime ? undefined : reasonByPath(pid, startTime, false)
    } catch (err) {
      if (err instanceof MemweaveError && err.kind === 'stale') return err.message
      if (isGone(err)) return reasonByPath(pid, startTime, true)
      throw toMemweaveError(err, 'os', `checking process ${pid}`)
    }
  }
}

export class NativeProcess implements OsProcess {
  readonly ref: ProcessRef
  readonly lifetime: Lifetime
  readonly mem: ProcMem
  readonly addressSpaceBytes: bigint
  private readonly description: string
  private readonly dir: string

  constructor(private readonly context: NativeProcessContext, stat: ProcStat) {
    this.ref = { pid: stat.pid, ppid: stat.ppid, name: stat.comm, startTime: stat.startTime }
    this.description = `process ${stat.pid} (${stat.comm})`
    this.dir = `/proc/${stat.pid}`
    this.addressSpaceBytes = context.addressSpaceBytes
    // The serial keeps pooled files apart when a pid is reused within one clock tick (equal start times).
    const key = `${stat.pid}@${stat.startTime}#${++instances}`
    this.lifetime = new Lifetime(this.description, context.osLifetime, processStaleCheck(stat.pid, stat.startTime, context.pool, key))
    this.lifetime.onEnd(() => {
      context.pool.drop(`${key}:`).catch((err: unknown) => context.log.warn({ err, pid: stat.pid }, 'closing /proc/PID files failed'))
    })
    this.mem = new ProcMem({
      pid: stat.pid,
      key,
      pool: context.pool,
      writable: context.allowWrite,
      addressSpaceBytes: context.addressSpaceBytes,
      staleReason: () => this.lifetime.staleReason(),
      description: this.description,
    })
  }

  async info(): Promise<ProcessInfo> {
    const [statText, statusText, cmdline, path] = await Promise.all([
      readProcText(`${this.dir}/stat`),
      readProcText(`${this.dir}/status`),
      readProcFile(`${this.dir}/cmdline`),
      this.exePath(),
    ])
    await this.ensureSame()
    if (statText === undefined || statusText === undefined) throw this.goneError()
    const stat = parseProcStat(statText)
    const status = parseProcStatus(statusText)
    return {
      ...this.ref,
      name: stat.comm,
      path,
      cmdline: splitNul(cmdline ?? Buffer.alloc(0)),
      state: stat.state,
      uid: status.uid,
      threads: stat.numThreads,
      dtb: undefined,
      arch: this.context.arch,
      kernelThread: (stat.flags & PF_KTHREAD) !== 0,
    }
  }

  async maps(): Promise<MapEntry[]> {
    const text = await this.read('maps')
    return parseMaps(text.toString('utf8'))
  }

  async physMaps(): Promise<PhysMapEntry[]> {
    const result = await readPhysMaps(this.ref.pid, this.description)
    await this.ensureSame()
    return result
  }

  modules(): Promise<ModuleInfo[]> {
    return this.maps().then((maps) => findElfImages(maps, this.mem))
  }

  async environ(): Promise<Record<string, string>> {
    const out: Record<string, string> = {}
    for (const entry of splitNul(await this.read('environ'))) {
      const eq = entry.indexOf('=')
      const key = eq < 0 ? entry : entry.slice(0, eq)
      if (!Object.hasOwn(out, key)) out[key] = eq < 0 ? '' : entry.slice(eq + 1)
    }
    return out
  }

  async auxv(): Promise<Uint8Array> {
    return new Uint8Array(await this.read('auxv'))
  }

  async threads(): Promise<ThreadState[]> {
    const threads = await readNativeThreads(this.ref.pid, this.context.arch)
    await this.ensureSame()
    return threads
  }

  /**
   * Reads /proc/PID/NAME and checks afterwards that the pid still names this
   * process. A process that is alive but has no address space (a kernel
   * thread) answers ESRCH for environ, auxv and mem: that reads as empty.
   */
  private async read(name: string): Promise<Buffer> {
    const data = await readProcFile(`${this.dir}/${name}`)
    await this.ensureSame()
    return data ?? Buffer.alloc(0)
  }

  private async exePath(): Promise<string | undefined> {
    try {
      return await readlink(`${this.dir}/exe`)
    } catch (err) {
      // Kernel threads have no executable (ENOENT); other users' processes may refuse (EACCES) without root.
      if (isGone(err) || (typeof err === 'object' && err !== null && 'code' in err && (err.code === 'EACCES' || err.code === 'EPERM'))) return undefined
      throw toMemweaveError(err, 'os', `${this.description}: readlink ${this.dir}/exe`)
    }
  }

  private async ensureSame(): Promise<void> {
    await this.lifetime.ensureAlive('os')
  }

  private goneError(): MemweaveError {
    return new MemweaveError('os', 'stale', `${this.description} has exited`)
  }
}

/** Splits NUL-separated strings (cmdline, environ), dropping the trailing empty one. */
export function splitNul(data: Buffer): string[] {
  const parts = data.toString('utf8').split('\0')
  if (parts.length > 0 && parts[parts.length - 1] === '') parts.pop()
  return parts
}
