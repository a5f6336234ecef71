/**
 * The `linux` OS kind: `linux[:symbols=PATH][,dtb=0x..][,kaslr=auto]` on a
 * connector. Opens the guest from memory alone (kallsyms + BTF found in the
 * image); `symbols=` swaps in a System.map or /proc/kallsyms file, `dtb=`
 * pins the page-table root.
 */
import { MemweaveError } from '../../errors/index.js'
import { ArgReader } from '../../tree/index.js'
import type { KindArgs } from '../../tree/index.js'
import type { Connector } from '../../connectors/index.js'
import type { OsContext, OsInstance, OsKind } from '../os-model.js'
import { openLinuxKernel } from './linux-open.js'
import { LinuxOs } from './linux-os.js'
import { stepFailure } from './open-report.js'

export const LINUX_USAGE = 'linux[:symbols=PATH][,dtb=0x..][,kaslr=auto][,arch=x86_64|arm64]'

async function createLinux(args: KindArgs, connector: Connector | undefined, context: OsContext): Promise<OsInstance> {
  const reader = new ArgReader(args, 'linux', ['symbols', 'dtb', 'kaslr', 'arch'])
  if (connector === undefined) throw new MemweaveError('os', 'invalid_argument', `linux needs a connector (usage: ${LINUX_USAGE})`)
  if (reader.target !== undefined) throw new MemweaveError('os', 'invalid_argument', `linux: unexpected argument '${reader.target}' (usage: ${LINUX_USAGE})`)
  const kaslr = reader.string('kaslr') ?? 'auto'
  if (kaslr !== 'auto') throw new MemweaveError('os', 'invalid_argument', `linux: kaslr='${kaslr}' is not supported; the slide is always found from memory (kaslr=auto)`)
  const symbolsPath = reader.string('symbols')
  if (symbolsPath === '') throw new MemweaveError('os', 'invalid_argument', 'linux: symbols= needs a file path')
  const opened = await openLinuxKernel(connector, { symbolsPath, dtb: reader.bigint('dtb'), arch: reader.string('arch'), progress: context.progress })
  context.progress?.('tasks', 0)
  const started = performance.now()
  const walk = await LinuxOs.taskListAtOpen(opened.kernel).catch((err: unknown) => { throw stepFailure('tasks', err, performance.now() - started) })
  const timingsMs = { ...opened.timingsMs, tasks: Math.round((performance.now() - started) * 10) / 10 }
  context.progress?.('tasks', 1)
  const os = new LinuxOs(opened.kernel, opened.facts, timingsMs, context.description, context.parentLifetime, walk, connector.hints.elfNotes)
  context.log.info({ release: opened.facts.release, kernelBase: opened.facts.kernelBase, tasks: walk.tasks.length, timingsMs }, 'linux guest opened')
  // A damaged list opens with what could be read; what was not is in os info `warnings` and on the tasks.
  if (walk.warnings.length > 0) context.log.warn({ warnings: walk.warnings }, 'linux guest: damaged task list')
  return os
}

export const linuxOsKind: OsKind = {
  kind: 'linux',
  usage: LINUX_USAGE,
  needsConnector: true,
  create: createLinux,
}
