/**
 * The `native` OS kind: the host Linux through /proc, no connector.
 * Usage: native[:refresh_ms=N] (how long a process listing is reused, default 250).
 */
import { readFile } from 'node:fs/promises'
import { MemweaveError, toMemweaveError } from '../../errors/index.js'
import { ArgReader, Lifetime } from '../../tree/index.js'
import type { KindArgs } from '../../tree/index.js'
import type { Connector } from '../../connectors/index.js'
import type { OsContext, OsKind } from '../os-model.js'
import { NativeOs } from './native-os.js'

export const DEFAULT_REFRESH_MS = 250

/** User address space: 2^48 normally, 2^57 when the CPU and kernel use 5-level paging. */
async function hostAddressSpaceBytes(): Promise<bigint> {
  try {
    const cpuinfo = await readFile('/proc/cpuinfo', 'utf8')
    return /^flags\s*:.*\bla57\b/m.test(cpuinfo) ? 1n << 57n : 1n << 48n
  } catch (err) {
    throw toMemweaveError(err, 'os', 'cannot read /proc/cpuinfo')
  }
}

export const nativeOsKind: OsKind = {
  kind: 'native',
  usage: 'native[:refresh_ms=N]   the host Linux through /proc (no connector); listings are reused for N ms (default 250)',
  needsConnector: false,
  async create(args: KindArgs, connector: Connector | undefined, context: OsContext): Promise<NativeOs> {
    if (process.platform !== 'linux') throw new MemweaveError('os', 'unsupported', `native reads /proc and needs Linux, not ${process.platform}`)
    if (connector !== undefined) throw new MemweaveError('os', 'invalid_argument', 'native reads the host through /proc and takes no connector (drop -c)')
    const reader = new ArgReader(args, 'native', ['refresh_ms'])
    if (reader.target !== undefined) throw new MemweaveError('os', 'invalid_argument', `native takes no target (got '${reader.target}'); usage: native[:refresh_ms=N]`)
    const refreshMs = reader.int('refresh_ms') ?? DEFAULT_REFRESH_MS
    return new NativeOs({
      refreshMs,
      allowWrite: context.allowWrite,
      lifetime: new Lifetime(context.description, context.parentLifetime),
      log: context.log,
      addressSpaceBytes: await hostAddressSpaceBytes(),
    })
  },
}
