/**
 * The `file` connector kind: a memory image on disk (raw, ELF core, LiME,
 * Windows crash dump) as physical memory (a Windows triage dump: as kernel
 * virtual memory, info.addressing 'virtual'). Its lifetime ends when the file is replaced or
 * changed under it (file-watch.ts), and every read then fails as stale.
 */
import { resolve } from 'node:path'
import type { Logger } from 'pino'
import { MemweaveError } from '../../errors/index.js'
import { RangeMap, hex } from '../../mem/index.js'
import { ArgReader, Lifetime } from '../../tree/index.js'
import type { KindArgs } from '../../tree/index.js'
import type { Connector, ConnectorContext, ConnectorHints, ConnectorKind, PhysRangeInfo } from '../connector.js'
import { vmcoreinfoText } from '../elf/index.js'
import { PreadMemory } from '../pread/index.js'
import type { PreadGuard } from '../pread/index.js'
import { FileWatch, fstatFd, identityOf } from './file-watch.js'
import type { ImageLayout } from './image-layout.js'
import { fdSource } from './image-source.js'
import { openCheckedFile } from '../../host/index.js'
import { closeFd, parseFormat, parseImage } from './open-image.js'

export const FILE_USAGE = 'file:PATH[,format=auto|raw|elf|lime|windows-dump][,strict=true][,volatile=true][,writable=true]'
/** info() lists at most this many ranges. */
export const MAX_LISTED_RANGES = 1024

export const fileConnectorKind: ConnectorKind = {
  kind: 'file',
  usage: FILE_USAGE,
  create: createFileConnector,
}

async function createFileConnector(args: KindArgs, context: ConnectorContext): Promise<Connector> {
  const reader = new ArgReader(args, 'file', ['format', 'strict', 'volatile', 'readonly', 'writable'])
  if (reader.target === undefined || reader.target === '') {
    throw new MemweaveError('connector', 'invalid_argument', `file: a PATH is required (usage: ${FILE_USAGE})`)
  }
  const format = parseFormat(reader.string('format'))
  // A triage dump's gaps are unknown kernel memory, not zeros: strict unless asked otherwise.
  const strictGiven = reader.string('strict') !== undefined
  const options = { strict: reader.bool('strict', false), volatile: reader.bool('volatile', false) }
  const path = resolve(reader.target)
  // Writes need the daemon's --allow-write, this connector's writable=true, and a file whose mode lets its owner write.
  const wantWrite = context.allowWrite && reader.bool('writable', false) && !reader.bool('readonly', false)
  const { fd, writable } = await openCheckedFile(path, { origin: 'connector', roots: context.fileRoots, write: wantWrite, what: 'file:', rootHint: 'serve --file-root DIR (or file_roots in the config)' })
  if (wantWrite && !writable) context.log.info({ path }, 'image mode does not let its owner write; opened read-only')
  try {
    const stats = await fstatFd(fd)
    const layout = await parseImage(fdSource(path, fd, Number(stats.size)), format)
    if (!strictGiven && layout.windowsDump !== undefined && layout.addressing === 'virtual') options.strict = true
    const connector = new FileConnector({ path, fd, layout, sizeBytes: Number(stats.size), readonly: !writable, ...options, args, context })
    connector.startWatching(identityOf(stats))
    context.log.info({ path, format: layout.format, ranges: layout.ranges.length, readonly: !writable, volatile: options.volatile }, 'opened memory image')
    return connector
  } catch (err) {
    await closeFd(fd).catch((closeErr: unknown) => context.log.warn({ err: closeErr, path }, 'closing image after a failed open failed'))
    throw err
  }
}

interface FileConnectorSetup {
  readonly path: string
  readonly fd: number
  readonly layout: ImageLayout
  readonly sizeBytes: number
  readonly readonly: boolean
  readonly strict: boolean
  readonly volatile: boolean
  readonly args: KindArgs
  readonly context: ConnectorContext
}

class FileConnector implements Connector {
  readonly kind = 'file'
  readonly mem: PreadMemory
  readonly lifetime: Lifetime
  readonly hints: ConnectorHints
  private readonly map: RangeMap
  private readonly log: Logger
  private watch: FileWatch | undefined
  private closed = false

  constructor(private readonly setup: FileConnectorSetup) {
    this.log = setup.context.log
    this.map = new RangeMap(setup.layout.ranges)
    this.lifetime = new Lifetime(setup.context.description, setup.context.parentLifetime, () => this.watch?.check())
    this.lifetime.onEnd(() => this.watch?.close())
    const guard: PreadGuard = {
      blocked: () => this.blocked(),
      // A failed or short read: the file may have changed on disk; the watch looks again now (and ends the lifetime if so).
      readFailed: () => { this.watch?.poke(); return Promise.resolve(undefined) },
      ownWrite: (work) => (this.watch === undefined ? work() : this.watch.ownWrite(work)),
    }
    this.mem = new PreadMemory({
      name: setup.path, fd: setup.fd, writable: !setup.readonly, map: this.map, strict: setup.strict, volatile: setup.volatile, guard,
      holes: false, words: { address: 'address', gap: 'not in the image' }, plainFile: true,
    })
    const notes = setup.layout.notes
    const vmcoreinfo = vmcoreinfoText(notes)
    this.hints = {
      ...(setup.layout.windowsDump !== undefined ? { windowsDump: setup.layout.windowsDump.hints } : {}),
      ...(notes.length > 0 ? { elfNotes: notes } : {}),
      ...(vmcoreinfo !== undefined ? { vmcoreinfo } : {}),
    }
  }

  startWatching(identity: ReturnType<typeof identityOf>): void {
    this.watch = new FileWatch({
      path: this.setup.path,
      fd: this.setup.fd,
      identity,
      volatile: this.setup.volatile,
      log: this.log,
      onStale: (reason) => {
        this.log.info({ path: this.setup.path, reason }, 'memory image changed; connector is stale')
        this.lifetime.end(reason)
      },
    })
  }

  private async blocked(): Promise<MemweaveError | undefined> {
    if (this.closed) return new MemweaveError('connector', 'stale', `stale handle: ${this.lifetime.description} was closed`)
    const reason = await this.lifetime.staleReason()
    return reason === undefined ? undefined : new MemweaveError('connector', 'stale', `stale handle: ${this.lifetime.description} ${reason}`)
  }

  info(): Record<string, unknown> {
    const { layout } = this.setup
    const merged = mergeContiguous(this.map)
    return {
      kind: 'file',
      args: this.setup.args.raw,
      path: this.setup.path,
      format: layout.format,
      addressing: layout.addressing,
      sizeBytes: this.setup.sizeBytes,
      physicalBytes: Number(this.map.totalBytes()),
      maxAddress: hex(this.map.maxAddress),
      rangeCount: merged.length,
      ranges: merged.slice(0, MAX_LISTED_RANGES),
      rangesTruncated: merged.length > MAX_LISTED_RANGES,
      duplicateSegments: layout.duplicateSegments,
      readonly: this.setup.readonly,
      strict: this.setup.strict,
      volatile: this.setup.volatile,
      notes: layout.notes.map((n) => ({ name: n.name, type: n.type, size: n.desc.length })),
      ...(layout.windowsDump !== undefined ? { windowsDump: layout.windowsDump.info } : {}),
      stale: this.lifetime.ended,
      stats: { ...this.mem.stats },
    }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.watch?.close()
    await this.mem.idle()
    this.lifetime.end('was closed')
    await closeFd(this.setup.fd).catch((err: unknown) => {
      throw new MemweaveError('connector', 'io', `cannot close ${this.setup.path}`, { cause: err })
    })
  }
}

/** The address layout as a reader thinks of it: touching ranges (data then zero tail) joined; end is exclusive. */
function mergeContiguous(map: RangeMap): PhysRangeInfo[] {
  const out: { start: bigint; end: bigint }[] = []
  for (const r of map.ranges) {
    const last = out[out.length - 1]
    if (last !== undefined && last.end === r.start) last.end = r.start + r.length
    else out.push({ start: r.start, end: r.start + r.length })
  }
  return out.map((r) => ({ start: hex(r.start), end: hex(r.end), sizeBytes: Number(r.end - r.start) }))
}
