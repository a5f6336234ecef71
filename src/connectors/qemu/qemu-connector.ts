/**
 * The `qemu` connector kind: the guest RAM of a running QEMU process, read
 * through /proc/PID/mem. The layout comes from QMP (qmp=SOCKET) or from
 * the command line and /proc/PID/maps; a client-named qmp= socket must be
 * one on the QEMU process's own command line. With QMP, the vCPUs' CR3/CR4 are
 * read too (hints.cpuRegisters) so the Linux layer need not scan. When the QEMU process exits (or its
 * pid is reused) the connector's lifetime ends and every handle on it
 * fails as stale.
 *
 *   selector ─▶ /proc/*\/cmdline ─▶ pid ─┬─ qmp: info mtree -f + gpa2hva ─┐
 *                                       └─ maps: -m, -machine + maps ────┴▶ RangeMap ─▶ PreadMemory(/proc/PID/mem)
 */
import { close as fsClose, open as fsOpen } from 'node:fs'
import { resolve } from 'node:path'
import type { Logger } from 'pino'
import { MemweaveError, toMemweaveError } from '../../errors/index.js'
import { RangeMap } from '../../mem/index.js'
import { ArgReader, Lifetime } from '../../tree/index.js'
import type { KindArgs } from '../../tree/index.js'
import type { Connector, ConnectorContext, ConnectorHints, ConnectorKind, CpuRegisterSnapshot } from '../connector.js'
import { readCpuRegisters } from './cpu-registers.js'
import { layoutFromMaps } from './maps-layout.js'
import { PreadMemory } from '../pread/index.js'
import { ProcessWatch, readProcStat } from './process-watch.js'
import type { ProcessIdentity } from './process-watch.js'
import { readProcMaps } from './proc-maps.js'
import { describeQemu, selectQemuProcess } from './qemu-process.js'
import type { QemuProcess } from './qemu-process.js'
import { QmpClient } from './qmp-client.js'
import { layoutFromQmp } from './qmp-layout.js'
import { describeRanges, toMappedRanges } from './ram-layout.js'
import type { QemuRamLayout } from './ram-layout.js'

export const QEMU_USAGE = 'qemu[:NAME|name=NAME|pid=PID][,qmp=SOCKET|auto][,strict=true]'

export const qemuConnectorKind: ConnectorKind = {
  kind: 'qemu',
  usage: QEMU_USAGE,
  create: createQemuConnector,
}

function openFd(path: string, flags: string): Promise<number> {
  return new Promise((ok, fail) => fsOpen(path, flags, (err, fd) => (err !== null ? fail(err) : ok(fd))))
}

function closeFd(fd: number): Promise<void> {
  return new Promise((ok, fail) => fsClose(fd, (err) => (err !== null ? fail(err) : ok())))
}

async function identityOf(pid: number): Promise<ProcessIdentity> {
  const stat = await readProcStat(pid).catch((err: unknown) => { throw toMemweaveError(err, 'connector', `qemu: cannot read /proc/${pid}/stat`) })
  if (stat === undefined || stat.state === 'Z') throw new MemweaveError('connector', 'not_found', `qemu: QEMU process ${pid} exited`)
  return { pid, startTicks: stat.startTicks }
}

async function openProcMem(pid: number, writable: boolean): Promise<number> {
  try {
    return await openFd(`/proc/${pid}/mem`, writable ? 'r+' : 'r')
  } catch (err) {
    const error = toMemweaveError(err, 'connector', `qemu: cannot open /proc/${pid}/mem`)
    if (error.kind === 'permission') throw new MemweaveError('connector', 'permission', `${error.message} (reading a QEMU process needs root or CAP_SYS_PTRACE)`, { cause: err })
    throw error
  }
}

async function createQemuConnector(args: KindArgs, context: ConnectorContext): Promise<Connector> {
  const reader = new ArgReader(args, 'qemu', ['name', 'pid', 'qmp', 'strict'])
  const named = reader.string('name')
  if (named !== undefined && reader.target !== undefined) throw new MemweaveError('connector', 'invalid_argument', `qemu: give the name once (as NAME or name=NAME), usage: ${QEMU_USAGE}`)
  const qmpArg = reader.string('qmp')
  const strict = reader.bool('strict', false)
  const qmpPath = qmpArg === undefined || qmpArg === 'auto' ? undefined : resolve(qmpArg)
  const found = await selectQemuProcess({ name: named ?? reader.target, pid: reader.int('pid'), qmpSocket: qmpPath })
  if (qmpPath !== undefined && context.fileRoots !== undefined) checkClientQmpSocket(found, qmpPath)
  const identity = await identityOf(found.pid)
  const socket = qmpArg === 'auto' ? autoSocket(found) : qmpPath
  const { layout, cpuRegisters } = socket === undefined ? { layout: await layoutFromMaps(found.pid, found.cmd), cpuRegisters: undefined } : await readQmpLayout(found, socket, context.log)
  const writable = context.allowWrite
  const fd = await openProcMem(found.pid, writable)
  let connector: QemuConnector
  try {
    // Checked after the open: the fd now pins whatever process has this pid, so it must still be ours.
    const now = await identityOf(found.pid)
    if (now.startTicks !== identity.startTicks) throw new MemweaveError('connector', 'stale', `qemu: QEMU process ${found.pid} exited while it was being opened`)
    connector = new QemuConnector({ found, identity, layout, cpuRegisters, socket, fd, writable, strict, args, context })
  } catch (err) {
    await closeFd(fd).catch((closeErr: unknown) => context.log.warn({ err: closeErr, pid: found.pid }, 'closing /proc/PID/mem after a failed open failed'))
    throw err
  }
  context.log.info({ pid: found.pid, name: found.cmd.name, method: layout.method, ranges: layout.ranges.length, ramBytes: Number(layout.ramBytes), readonly: !writable }, 'attached to QEMU')
  return connector
}

/**
 * A QMP socket a client names (a connector/new line, not the daemon's own config) is connected
 * to with the daemon's privileges; it must be one the chosen QEMU process was started with, so a
 * client cannot point the daemon at any other unix socket (docs/access.md).
 */
function checkClientQmpSocket(found: QemuProcess, socket: string): void {
  if (found.cmd.qmpSockets.some((s) => resolve(s) === socket)) return
  throw new MemweaveError('connector', 'permission', `qemu: qmp=${socket} is not a QMP socket on the command line of ${describeQemu(found)}; a client may name only those (or use qmp=auto)`)
}

function autoSocket(found: QemuProcess): string {
  const socket = found.cmd.qmpSockets[0]
  if (socket === undefined) throw new MemweaveError('connector', 'not_found', `qemu: ${describeQemu(found)} has no QMP unix socket on its command line (qmp=auto)`)
  return socket
}

async function readQmpLayout(found: QemuProcess, socket: string, log: Logger): Promise<{ layout: QemuRamLayout; cpuRegisters: CpuRegisterSnapshot[] | undefined }> {
  const client = await QmpClient.connect(socket)
  try {
    const answer = await client.execute('query-name')
    const qmpName = typeof answer === 'object' && answer !== null ? Reflect.get(answer, 'name') : undefined
    if (typeof qmpName === 'string' && found.cmd.name !== undefined && qmpName !== found.cmd.name) {
      throw new MemweaveError('connector', 'invalid_argument', `qemu: QMP socket ${socket} belongs to guest '${qmpName}', not to ${describeQemu(found)}`)
    }
    if (!found.cmd.qmpSockets.some((s) => resolve(s) === socket)) log.debug({ socket, pid: found.pid }, 'QMP socket is not on the QEMU command line; trusting the mapping check')
    const layout = await layoutFromQmp(client, await readProcMaps(found.pid))
    // Same session: QEMU serves one QMP client at a time.
    return { layout, cpuRegisters: await readCpuRegisters(client, log) }
  } finally {
    client.close()
  }
}

interface QemuSetup {
  readonly found: QemuProcess
  readonly identity: ProcessIdentity
  readonly layout: QemuRamLayout
  readonly cpuRegisters: CpuRegisterSnapshot[] | undefined
  readonly socket: string | undefined
  readonly fd: number
  readonly writable: boolean
  readonly strict: boolean
  readonly args: KindArgs
  readonly context: ConnectorContext
}

class QemuConnector implements Connector {
  readonly kind = 'qemu'
  readonly mem: PreadMemory
  readonly lifetime: Lifetime
  readonly hints: ConnectorHints
  private readonly watch: ProcessWatch
  private closed = false

  constructor(private readonly setup: QemuSetup) {
    const { pid } = setup.identity
    const log = setup.context.log
    const binary = setup.found.cmd.binary
    const guestArch = /aarch64/.test(binary) ? 'arm64' : /x86_64/.test(binary) ? 'x86_64' : undefined
    this.hints = { ...(setup.cpuRegisters === undefined ? {} : { cpuRegisters: setup.cpuRegisters }), ...(guestArch === undefined ? {} : { guestArch }) }
    this.watch = new ProcessWatch({
      identity: setup.identity,
      log,
      onExit: (reason) => {
        log.info({ pid, reason }, 'QEMU process is gone; connector is stale')
        this.lifetime.end(reason)
      },
    })
    this.lifetime = new Lifetime(setup.context.description, setup.context.parentLifetime, () => this.watch.check())
    this.lifetime.onEnd(() => this.watch.close())
    this.mem = new PreadMemory({
      name: `QEMU pid ${pid}`,
      fd: setup.fd,
      writable: setup.writable,
      map: new RangeMap(toMappedRanges(setup.layout.ranges)),
      strict: setup.strict,
      volatile: true,
      guard: { blocked: () => this.blocked(), readFailed: () => this.readFailed() },
    })
  }

  private staleError(reason: string): MemweaveError {
    return new MemweaveError('connector', 'stale', `stale handle: ${this.lifetime.description} ${reason}`)
  }

  private async blocked(): Promise<MemweaveError | undefined> {
    if (this.closed) return this.staleError('was closed')
    const reason = await this.lifetime.staleReason()
    return reason === undefined ? undefined : this.staleError(reason)
  }

  private async readFailed(): Promise<MemweaveError | undefined> {
    const reason = (await this.watch.poke()) ?? (this.closed ? 'was closed' : undefined)
    return reason === undefined ? undefined : this.staleError(reason)
  }

  info(): Record<string, unknown> {
    const { found, layout } = this.setup
    return {
      kind: 'qemu',
      args: this.setup.args.raw,
      pid: found.pid,
      name: found.cmd.name ?? null,
      binary: found.cmd.binary,
      machine: layout.machine,
      method: layout.method,
      qmpSocket: this.setup.socket ?? null,
      cpuRegisters: this.setup.cpuRegisters?.length ?? 0,
      ramBytes: Number(layout.ramBytes),
      maxAddress: `0x${this.mem.metadata().maxAddress.toString(16)}`,
      ranges: describeRanges(layout.ranges),
      readonly: !this.setup.writable,
      strict: this.setup.strict,
      volatile: true,
      stale: this.lifetime.ended,
      stats: { ...this.mem.stats },
    }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.watch.close()
    await this.mem.idle()
    this.lifetime.end('was closed')
    await closeFd(this.setup.fd).catch((err: unknown) => {
      throw new MemweaveError('connector', 'io', `cannot close /proc/${this.setup.identity.pid}/mem`, { cause: err })
    })
  }
}
