/**
 * The `windows` OS kind: `windows[:dtb=0x..]` on a connector. Opens the
 * guest from memory alone, without PDB files (windows-open.ts); `dtb=`
 * pins the kernel's page-table root.
 */
import { MemweaveError } from '../../errors/index.js'
import { ArgReader } from '../../tree/index.js'
import type { KindArgs } from '../../tree/index.js'
import type { Connector } from '../../connectors/index.js'
import type { OsContext, OsInstance, OsKind } from '../os-model.js'
import { readProcessTable } from './process-table.js'
import { openWindowsKernel } from './windows-open.js'
import { WindowsOs } from './windows-os.js'

export const WINDOWS_USAGE = 'windows[:dtb=0x..]'

async function createWindows(args: KindArgs, connector: Connector | undefined, context: OsContext): Promise<OsInstance> {
  const reader = new ArgReader(args, 'windows', ['dtb'])
  if (connector === undefined) throw new MemweaveError('os', 'invalid_argument', `windows needs a connector (usage: ${WINDOWS_USAGE})`)
  if (reader.target !== undefined) throw new MemweaveError('os', 'invalid_argument', `windows: unexpected argument '${reader.target}' (usage: ${WINDOWS_USAGE})`)
  const opened = await openWindowsKernel(connector, { dtb: reader.bigint('dtb'), progress: context.progress })
  context.progress?.('processes', 0)
  const started = performance.now()
  const table = await readProcessTable(opened.kernel)
  const timingsMs = { ...opened.timingsMs, processes: Math.round((performance.now() - started) * 10) / 10 }
  context.progress?.('processes', 1)
  const os = new WindowsOs(opened.kernel, table, opened.facts, timingsMs, context.description, context.parentLifetime)
  context.log.info({ build: opened.kernel.build, kernelBase: opened.facts['kernelBase'], processes: table.records.length, timingsMs }, 'windows guest opened')
  return os
}

export const windowsOsKind: OsKind = {
  kind: 'windows',
  usage: WINDOWS_USAGE,
  needsConnector: true,
  create: createWindows,
}
