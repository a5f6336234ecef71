/**
 * A TreeClient over an in-process tree: the same calls as over the wire,
 * with its own owner id so its handles are counted and dropped like a
 * connection's.
 */
import type { FileSpans, PieceResult, ReadIntoPiece, ReadIntoResult, ReadPiece, WritePiece, WriteResult } from '../mem/index.js'
import type { Entry, LeafFileMap, OpenResult, Stat, Tree } from '../tree/index.js'
import type { OpenOptions, TreeClient } from './tree-client.js'

let localClients = 0

export class LocalTreeClient implements TreeClient {
  readonly owner: string

  constructor(private readonly tree: Tree, owner?: string) {
    this.owner = owner ?? `local-${++localClients}`
  }

  list(path: string): Promise<Entry[]> { return this.tree.list(path) }
  stat(path: string): Promise<Stat> { return this.tree.stat(path) }
  open(path: string, options?: OpenOptions): Promise<OpenResult> { return this.tree.open(path, this.owner, options) }
  read(handle: number, pieces: readonly ReadPiece[]): Promise<PieceResult[]> { return this.tree.read(handle, pieces, this.owner) }
  readInto(handle: number, pieces: readonly ReadIntoPiece[], target: Uint8Array): Promise<ReadIntoResult[]> { return this.tree.readInto(handle, pieces, target, this.owner) }
  fileSpans(handle: number, addr: bigint, length: number): Promise<FileSpans | undefined> { return this.tree.fileSpans(handle, addr, length, this.owner) }
  fileMap(handle: number): Promise<LeafFileMap | undefined> { return this.tree.fileMap(handle, this.owner) }
  write(handle: number, pieces: readonly WritePiece[]): Promise<WriteResult[]> { return this.tree.write(handle, pieces, this.owner) }
  rpc(handle: number, request: unknown): Promise<unknown> { return this.tree.rpc(handle, request, this.owner) }
  close(handle: number): Promise<void> { return this.tree.close(handle, this.owner) }

  async watch(path: string, listener: (changed: string) => void): Promise<() => Promise<void>> {
    const unsubscribe = this.tree.events.subscribe(path, listener)
    return async () => { unsubscribe() }
  }

  async disconnect(): Promise<void> {
    await this.tree.handles.dropOwner(this.owner)
  }
}
