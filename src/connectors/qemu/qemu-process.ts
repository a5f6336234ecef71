/**
 * Finding the QEMU process to attach to: every process whose argv[0] is a
 * qemu-system-* binary, chosen by its -name, by pid, by the QMP socket on
 * its command line, or as the only one running. No match or several
 * matches is an error that lists what is running.
 */
import { readdir, readFile } from 'node:fs/promises'
import { MemweaveError, errnoCode, toMemweaveError } from '../../errors/index.js'
import { isQemuBinary, parseQemuCommandLine } from './qemu-cmdline.js'
import type { QemuCommandLine } from './qemu-cmdline.js'

export interface QemuProcess {
  readonly pid: number
  readonly cmd: QemuCommandLine
}

export interface ProcessSelector {
  readonly name?: string | undefined
  readonly pid?: number | undefined
  /** A QMP socket path: used to pick among several QEMUs when neither name nor pid is given. */
  readonly qmpSocket?: string | undefined
}

/** Files read at once while scanning /proc. */
const SCAN_BATCH = 64


/** argv of a process, or undefined when it is gone or has none (kernel thread, zombie). */
async function readArgv(pid: number): Promise<string[] | undefined> {
  let raw: Buffer
  try {
    raw = await readFile(`/proc/${pid}/cmdline`)
  } catch (err) {
    // A process may exit between readdir and this read.
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ESRCH') return undefined
    throw toMemweaveError(err, 'connector', `qemu: cannot read /proc/${pid}/cmdline`)
  }
  if (raw.length === 0) return undefined
  const parts = raw.toString('utf8').split('\0')
  if (parts[parts.length - 1] === '') parts.pop()
  return parts
}

export async function listQemuProcesses(): Promise<QemuProcess[]> {
  let entries: string[]
  try {
    entries = await readdir('/proc')
  } catch (err) {
    throw toMemweaveError(err, 'connector', 'qemu: cannot list /proc')
  }
  const pids = entries.filter((e) => /^\d+$/.test(e)).map(Number).filter((pid) => pid !== process.pid)
  const out: QemuProcess[] = []
  for (let i = 0; i < pids.length; i += SCAN_BATCH) {
    const batch = pids.slice(i, i + SCAN_BATCH)
    const argvs = await Promise.all(batch.map((pid) => readArgv(pid)))
    batch.forEach((pid, j) => {
      const argv = argvs[j]
      if (argv !== undefined && isQemuBinary(argv[0] ?? '')) out.push({ pid, cmd: parseQemuCommandLine(argv) })
    })
  }
  return out.sort((a, b) => a.pid - b.pid)
}

export function describeQemu(p: QemuProcess): string {
  return p.cmd.name === undefined ? `pid ${p.pid} (${p.cmd.binary}, no -name)` : `pid ${p.pid} '${p.cmd.name}'`
}

function running(all: readonly QemuProcess[]): string {
  return all.length === 0 ? 'no QEMU process is running' : `running: ${all.map(describeQemu).join(', ')}`
}

export async function selectQemuProcess(selector: ProcessSelector): Promise<QemuProcess> {
  if (selector.pid !== undefined) return byPid(selector.pid, selector.name)
  const all = await listQemuProcesses()
  if (selector.name !== undefined) {
    const named = all.filter((p) => p.cmd.name === selector.name)
    if (named.length === 1) return named[0]!
    if (named.length === 0) throw new MemweaveError('connector', 'not_found', `qemu: no QEMU process has -name '${selector.name}' (${running(all)})`)
    throw new MemweaveError('connector', 'invalid_argument', `qemu: several QEMU processes have -name '${selector.name}' (${running(named)}); choose one with pid=PID`)
  }
  const socket = selector.qmpSocket
  const viaSocket = socket === undefined ? [] : all.filter((p) => p.cmd.qmpSockets.includes(socket))
  if (viaSocket.length === 1) return viaSocket[0]!
  if (all.length === 1) return all[0]!
  if (all.length === 0) throw new MemweaveError('connector', 'not_found', 'qemu: no QEMU process (qemu-system-*) is running')
  throw new MemweaveError('connector', 'invalid_argument', `qemu: several QEMU processes are running (${running(all)}); choose one with name=NAME or pid=PID`)
}

async function byPid(pid: number, name: string | undefined): Promise<QemuProcess> {
  const argv = await readArgv(pid)
  if (argv === undefined) throw new MemweaveError('connector', 'not_found', `qemu: no process with pid ${pid}`)
  if (!isQemuBinary(argv[0] ?? '')) {
    throw new MemweaveError('connector', 'invalid_argument', `qemu: pid ${pid} is not a QEMU process (it runs ${argv[0] ?? '?'})`)
  }
  const found: QemuProcess = { pid, cmd: parseQemuCommandLine(argv) }
  if (name !== undefined && found.cmd.name !== name) {
    throw new MemweaveError('connector', 'invalid_argument', `qemu: pid ${pid} has -name '${found.cmd.name ?? ''}', not '${name}'`)
  }
  return found
}
