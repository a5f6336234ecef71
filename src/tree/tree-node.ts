/**
 * The tree's two node types. A branch answers `list` and `get`; a leaf has
 * metadata and `open`, which yields an opened leaf with optional read, write
 * and rpc. A missing operation is a clear 'unsupported' error at the caller.
 */
import type { FileMap, FileSpans, PieceResult, ReadIntoPiece, ReadIntoResult, ReadPiece, WritePiece, WriteResult } from '../mem/index.js'
import type { Lifetime } from './lifetime.js'

export type LeafContent = 'mem' | 'text' | 'binary' | 'control' | 'rpc'

export interface LeafMeta {
  /** Size in bytes when known at listing time; undefined for generated content whose size is only known once opened. */
  readonly sizeBytes: bigint | undefined
  readonly readable: boolean
  readonly writable: boolean
  readonly rpc: boolean
  /** What the bytes are, so frontends can pick direct I/O (mem) or snapshots (text). */
  readonly content: LeafContent
}

/** What an rpc may use besides its request: a signal that the caller cancelled, and a way to report progress. */
export interface RpcContext {
  readonly signal?: AbortSignal
  /** How far the call has come (e.g. bytes scanned of the total); the server turns it into progress events. */
  readonly progress?: (done: number, total: number, detail?: Readonly<Record<string, unknown>>) => void
}

export interface OpenedLeaf {
  /** Size of what this open sees (a text snapshot's length, a mem view's extent). */
  readonly sizeBytes: bigint | undefined
  /** For a leaf on another node: the handles it forwards to, nearest first ('b#17', 'c#4'); absent for local leaves. */
  readonly chain?: readonly string[]
  read?(pieces: readonly ReadPiece[]): Promise<PieceResult[]>
  /** Optional bulk path into the caller's memory; without it the tree reads and copies. */
  readInto?(pieces: readonly ReadIntoPiece[], target: Uint8Array): Promise<ReadIntoResult[]>
  /** Optional: the range as spans of plain files (MemoryView.fileSpans); undefined when it cannot be. */
  fileSpans?(addr: bigint, length: number): FileSpans | undefined
  /** Optional: the whole leaf as a FileMap (MemoryView.fileMap); undefined when it cannot be. */
  fileMap?(): FileMap | undefined
  write?(pieces: readonly WritePiece[]): Promise<WriteResult[]>
  rpc?(request: unknown, context?: RpcContext): Promise<unknown>
  close?(): Promise<void>
}

export interface Leaf {
  readonly type: 'leaf'
  /** Names the object this leaf shows; two opens of the same identity share a handle. */
  readonly identity: string
  readonly lifetime: Lifetime
  /** Names the leaf for exclusive holds when its identity does not (a remote leaf: peer and remote path); default the identity. */
  readonly holdKey?: string
  meta(): Promise<LeafMeta> | LeafMeta
  /** exclusive: the open asked to be the leaf's only user (a remote leaf asks its peer too). */
  open(options?: LeafOpenOptions): Promise<OpenedLeaf>
}

export interface LeafOpenOptions {
  readonly exclusive?: boolean
}

export interface Entry {
  readonly name: string
  readonly type: 'leaf' | 'branch'
  /** Present for leaves whose metadata is cheap to give at listing time. */
  readonly meta?: LeafMeta
}

export interface Branch {
  readonly type: 'branch'
  readonly lifetime?: Lifetime
  list(): Promise<Entry[]>
  get(name: string): Promise<TreeNode | undefined>
}

export type TreeNode = Branch | Leaf

/**
 * A leaf's FileMap, taken through an open handle, with the object's end: a
 * reader answering reads from the map itself stops when onEnd fires (the
 * image was replaced, the connector closed), as the tree's reads would fail.
 */
export interface LeafFileMap extends FileMap {
  onEnd(listener: (reason: string) => void): () => void
}
