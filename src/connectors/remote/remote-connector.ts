/**
 * A connector made of another node's connector: its memory is one handle on
 * this node's own tree at PATH/mem (where PATH is a peer's connector, e.g.
 * b/connector/dump), so batched physical reads forward along the chained
 * handle (here → b → c …), one round trip per hop per batch. Hints and the
 * memory's metadata come from PATH/hints. The connector goes stale the
 * moment that handle does (a peer in the chain disconnected).
 *
 *   os 'g' ─▶ RemoteConnector.mem ─▶ tree handle on b/connector/dump/mem ═▶ peer b ═▶ …
 */
import { MemweaveError, toMemweaveError } from '../../errors/index.js'
import { emptyStats, physAddr } from '../../mem/index.js'
import type { MemMetadata, MemStats, PhysAddr, PhysicalMemory, PieceResult, ReadPiece, WritePiece, WriteResult } from '../../mem/index.js'
import { Lifetime, joinPath, splitPath } from '../../tree/index.js'
import type { Tree } from '../../tree/index.js'
import type { Connector, ConnectorContext, ConnectorHints } from '../connector.js'
import { parseHintsDocument } from './hints-leaf.js'

const MAX_JSON_BYTES = 16 * 1024 * 1024
let ownerSerial = 0

/** Opens PATH/mem and reads PATH/hints on `tree` (the local tree, where PATH is a peer's connector). */
export async function openRemoteConnector(tree: Tree, path: string, context: ConnectorContext): Promise<Connector> {
  const base = joinPath(splitPath(path))
  const owner = `remote-connector-${++ownerSerial}`
  const { hints, metadata } = parseHintsDocument(JSON.parse(await readWholeLeaf(tree, `${base}/hints`, owner)))
  const memPath = `${base}/mem`
  const node = await tree.resolve(memPath)
  if (node.type !== 'leaf') throw new MemweaveError('connector', 'not_a_leaf', `'${memPath}' is not a memory leaf`)
  const entry = await tree.handles.open(memPath, node, owner)
  const lifetime = new Lifetime(context.description, context.parentLifetime)
  entry.leaf.lifetime.onEnd((reason) => lifetime.end(reason))
  const mem = new RemoteMemory(tree, entry.handle, owner, {
    ...metadata,
    maxAddress: entry.opened.sizeBytes ?? metadata.maxAddress,
    readonly: metadata.readonly || !entry.meta.writable || !context.allowWrite,
  })
  context.log.debug({ path: base, handle: entry.handle, chain: entry.opened.chain }, 'remote connector opened')
  return new RemoteConnector(tree, base, owner, mem, lifetime, hints)
}

/** Physical memory read through a handle on the local tree (which forwards it to the peer). */
class RemoteMemory implements PhysicalMemory {
  readonly stats: MemStats = emptyStats()

  constructor(private readonly tree: Tree, readonly handle: number, private readonly owner: string, private readonly meta: MemMetadata) {}

  async read(pieces: readonly ReadPiece<PhysAddr>[]): Promise<PieceResult[]> {
    const results = await this.tree.read(this.handle, pieces, this.owner)
    this.stats.readBatches++
    this.stats.readPieces += pieces.length
    for (const result of results) {
      if (result.ok) this.stats.readBytes += result.data.length
      else this.stats.readFailures++
    }
    return results
  }

  async write(pieces: readonly WritePiece<PhysAddr>[]): Promise<WriteResult[]> {
    if (this.meta.readonly) return pieces.map(() => ({ ok: false, error: new MemweaveError('connector', 'permission', 'this remote connector is read-only') }))
    this.stats.writeBatches++
    return this.tree.write(this.handle, pieces, this.owner)
  }

  metadata(): MemMetadata {
    return this.meta
  }
}

class RemoteConnector implements Connector {
  readonly kind = 'remote'

  constructor(
    private readonly tree: Tree,
    private readonly path: string,
    private readonly owner: string,
    readonly mem: RemoteMemory,
    readonly lifetime: Lifetime,
    readonly hints: ConnectorHints,
  ) {}

  async info(): Promise<Record<string, unknown>> {
    const handle = this.tree.handles.summaries().find((h) => h.handle === this.mem.handle)
    let remote: unknown
    try {
      remote = JSON.parse(await readWholeLeaf(this.tree, `${this.path}/info`, this.owner))
    } catch (err) {
      remote = { error: toMemweaveError(err, 'connector', `cannot read ${this.path}/info`).message }
    }
    const meta = this.mem.metadata()
    return {
      kind: 'remote', path: this.path, chain: handle?.chain ?? [], sizeBytes: meta.maxAddress, maxAddress: `0x${meta.maxAddress.toString(16)}`,
      readonly: meta.readonly, volatile: meta.volatile, elfNotes: this.hints.elfNotes?.length ?? 0, stats: this.mem.stats, remote,
    }
  }

  async close(): Promise<void> {
    await this.tree.close(this.mem.handle, this.owner).catch((err: unknown) => {
      // Already gone with its peer, or closed by a forced removal: nothing is left to release.
      if (!(err instanceof MemweaveError && err.kind === 'not_found')) throw err
    })
  }
}

/** The whole (small) content of a leaf on the tree, as text. */
async function readWholeLeaf(tree: Tree, path: string, owner: string): Promise<string> {
  const opened = await tree.open(path, owner)
  try {
    const chunks: Uint8Array[] = []
    let offset = 0
    for (;;) {
      const [result] = await tree.read(opened.handle, [{ addr: physAddr(offset), length: 1 << 20 }], owner)
      if (result === undefined || !result.ok) throw result?.error ?? new MemweaveError('connector', 'io', `reading ${path} returned nothing`)
      chunks.push(result.data)
      offset += result.data.length
      if (result.data.length < 1 << 20) break
      if (offset > MAX_JSON_BYTES) throw new MemweaveError('connector', 'too_large', `${path} is larger than ${MAX_JSON_BYTES} bytes`)
    }
    return Buffer.concat(chunks).toString('utf8')
  } finally {
    await tree.close(opened.handle, owner)
  }
}
