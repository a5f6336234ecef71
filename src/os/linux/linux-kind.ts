/**
 * The `linux` OS kind: `linux[:symbols=PATH][,dtb=0x..][,kaslr=auto]` on a
 * connector. Opens the guest from memory alone (kallsyms + BTF found in the
 * image); `symbols=` swaps in a System.map or /proc/kallsyms copy (a file a
 * client names: checked like `file:` paths, docs/access.md), `dtb=`
 * pins the page-table root.
 */
import { MemweaveError, quote, toMemweaveError } from '../../errors/index.js'
import { readCheckedFile } from '../../host/index.js'
import { ArgReader } from '../../tree/index.js'
import type { KindArgs } from '../../tree/index.js'
import type { Connector } from '../../connectors/index.js'
import type { OsContext, OsInstance, OsKind } from '../os-model.js'
import { openLinuxKernel } from './linux-open.js'
import { LinuxOs } from './linux-os.js'
import { stepFailure } from './open-report.js'

export const LINUX_USAGE = 'linux[:symbols=PATH][,dtb=0x..][,kaslr=auto][,arch=x86_64|arm64]'

/** A System.map or kallsyms of a big kernel is a few MB; anything far bigger is the wrong file. */
const MAX_SYMBOLS_BYTES = 64 * 1024 * 1024

/**
 * Reads symbols= before any work on memory, as a file a client named: under the allowed roots
 * (when the line came from a client), a regular file (no FIFO, device or /proc), size-capped, UTF-8.
 */
async function readSymbolsFile(path: string, context: OsContext): Promise<string> {
  let bytes: Buffer
  try {
    bytes = await readCheckedFile(path, { origin: 'os', roots: context.fileRoots, what: 'symbols file', maxBytes: MAX_SYMBOLS_BYTES, rootHint: 'serve --file-root DIR (or file_roots in the config)' })
  } catch (err) {
    const error = toMemweaveError(err, 'os', 'symbols file')
    // A refusal names its own reason; anything else (absent, unreadable) says what could not be read.
    const refused = error.kind === 'permission' || error.kind === 'invalid_argument' || error.kind === 'too_large'
    throw new MemweaveError('os', error.kind, refused ? `linux: ${error.message}` : `linux: cannot read symbols file ${quote(path, 200)} (${error.message})`, { cause: err })
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch (err) {
    throw new MemweaveError('os', 'malformed', `linux: symbols file ${quote(path, 200)} is not text (a System.map or /proc/kallsyms copy)`, { cause: err })
  }
}

async function createLinux(args: KindArgs, connector: Connector | undefined, context: OsContext): Promise<OsInstance> {
  const reader = new ArgReader(args, 'linux', ['symbols', 'dtb', 'kaslr', 'arch'])
  if (connector === undefined) throw new MemweaveError('os', 'invalid_argument', `linux needs a connector (usage: ${LINUX_USAGE})`)
  if (reader.target !== undefined) throw new MemweaveError('os', 'invalid_argument', `linux: unexpected argument '${reader.target}' (usage: ${LINUX_USAGE})`)
  const kaslr = reader.string('kaslr') ?? 'auto'
  if (kaslr !== 'auto') throw new MemweaveError('os', 'invalid_argument', `linux: kaslr='${kaslr}' is not supported; the slide is always found from memory (kaslr=auto)`)
  const symbolsPath = reader.string('symbols')
  if (symbolsPath === '') throw new MemweaveError('os', 'invalid_argument', 'linux: symbols= needs a file path')
  const symbolsText = symbolsPath === undefined ? undefined : await readSymbolsFile(symbolsPath, context)
  const opened = await openLinuxKernel(connector, { symbolsPath, symbolsText, dtb: reader.bigint('dtb'), arch: reader.string('arch'), progress: context.progress })
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
