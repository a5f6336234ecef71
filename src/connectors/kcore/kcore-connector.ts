/**
 * The `kcore` connector kind: the host's physical memory through
 * /proc/kcore (or another kcore-format file given as PATH). Read-only and
 * volatile; needs root (CAP_SYS_RAWIO) and a kernel without lockdown.
 */
import { close as fsClose, open as fsOpen } from 'node:fs'
import { resolve } from 'node:path'
import { MemweaveError, toMemweaveError } from '../../errors/index.js'
import { RangeMap, hex } from '../../mem/index.js'
import { ArgReader, Lifetime } from '../../tree/index.js'
import type { KindArgs } from '../../tree/index.js'
import type { Connector, ConnectorContext, ConnectorHints, ConnectorKind } from '../connector.js'
import { readAtMost } from '../positional-read.js'
import { PreadMemory } from '../pread/index.js'
import { vmcoreinfoText } from '../elf/index.js'
import { parseKcore } from './kcore-layout.js'
import type { KcoreLayout, KcoreSource } from './kcore-layout.js'

export const KCORE_USAGE = 'kcore[:PATH][,strict=true]'
export const DEFAULT_KCORE_PATH = '/proc/kcore'

export const kcoreConnectorKind: ConnectorKind = {
  kind: 'kcore',
  usage: KCORE_USAGE,
  create: createKcoreConnector,
}

function openFd(path: string): Promise<number> {
  return new Promise((ok, fail) => fsOpen(path, 'r', (err, fd) => (err !== null ? fail(err) : ok(fd))))
}

function closeFd(fd: number): Promise<void> {
  return new Promise((ok, fail) => fsClose(fd, (err) => (err !== null ? fail(err) : ok())))
}

function fdSource(name: string, fd: number): KcoreSource {
  return {
    name,
    read: (offset, length) => readAtMost(fd, offset, length),
  }
}

async function openKcore(path: string): Promise<number> {
  try {
    return await openFd(path)
  } catch (err) {
    const error = toMemweaveError(err, 'connector', `kcore: cannot open ${path}`)
    if (error.kind === 'permission') throw new MemweaveError('connector', 'permission', `${error.message} (reading kcore needs root with CAP_SYS_RAWIO, and no kernel lockdown)`, { cause: err })
    if (error.kind === 'not_found' && path === DEFAULT_KCORE_PATH) throw new MemweaveError('connector', 'not_found', `${error.message} (this kernel was built without CONFIG_PROC_KCORE)`, { cause: err })
    throw error
  }
}

async function createKcoreConnector(args: KindArgs, context: ConnectorContext): Promise<Connector> {
  const reader = new ArgReader(args, 'kcore', ['strict'])
  const path = resolve(reader.target ?? DEFAULT_KCORE_PATH)
  const fd = await openKcore(path)
  try {
    const layout = await parseKcore(fdSource(path, fd))
    const connector = new KcoreConnector(path, fd, layout, reader.bool('strict', false), args, context)
    context.log.info({ path, ranges: layout.ranges.length, physicalBytes: Number(connector.map.totalBytes()) }, 'opened kcore')
    return connector
  } catch (err) {
    await closeFd(fd).catch((closeErr: unknown) => context.log.warn({ err: closeErr, path }, 'closing kcore after a failed open failed'))
    throw err
  }
}

class KcoreConnector implements Connector {
  readonly kind = 'kcore'
  readonly mem: PreadMemory
  readonly lifetime: Lifetime
  readonly hints: ConnectorHints
  readonly map: RangeMap
  private closed = false

  constructor(
    private readonly path: string,
    private readonly fd: number,
    private readonly layout: KcoreLayout,
    private readonly strict: boolean,
    private readonly args: KindArgs,
    context: ConnectorContext,
  ) {
    this.map = new RangeMap(layout.ranges)
    this.lifetime = new Lifetime(context.description, context.parentLifetime)
    this.mem = new PreadMemory({
      name: path,
      fd,
      writable: false,
      map: this.map,
      strict,
      volatile: true,
      guard: { blocked: () => this.blocked(), readFailed: async () => this.blocked() },
    })
    const vmcoreinfo = vmcoreinfoText(layout.notes)
    this.hints = { ...(layout.notes.length > 0 ? { elfNotes: layout.notes } : {}), ...(vmcoreinfo !== undefined ? { vmcoreinfo } : {}) }
  }

  private async blocked(): Promise<MemweaveError | undefined> {
    if (this.closed) return new MemweaveError('connector', 'stale', `stale handle: ${this.lifetime.description} was closed`)
    const reason = await this.lifetime.staleReason()
    return reason === undefined ? undefined : new MemweaveError('connector', 'stale', `stale handle: ${this.lifetime.description} ${reason}`)
  }

  info(): Record<string, unknown> {
    return {
      kind: 'kcore',
      args: this.args.raw,
      path: this.path,
      directMapBase: hex(this.layout.directMapBase),
      loadSegments: this.layout.loadSegments,
      physicalBytes: Number(this.map.totalBytes()),
      maxAddress: hex(this.map.maxAddress),
      ranges: this.map.ranges.map((r) => ({ start: hex(r.start), end: hex(r.start + r.length), sizeBytes: Number(r.length), fileOffset: hex(r.backing) })),
      notes: this.layout.notes.map((n) => ({ name: n.name, type: n.type, size: n.desc.length })),
      readonly: true,
      strict: this.strict,
      volatile: true,
      stale: this.lifetime.ended,
      stats: { ...this.mem.stats },
    }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.mem.idle()
    this.lifetime.end('was closed')
    await closeFd(this.fd).catch((err: unknown) => {
      throw new MemweaveError('connector', 'io', `cannot close ${this.path}`, { cause: err })
    })
  }
}
