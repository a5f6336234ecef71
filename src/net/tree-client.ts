/**
 * The client surface every frontend uses, whether the tree is across a
 * socket (ProtocolClient) or in this process (LocalTreeClient, for
 * --embedded and tests). Frontends depend on this, never on the tree itself.
 */
import type { FileSpans, PieceResult, ReadIntoPiece, ReadIntoResult, ReadPiece, WritePiece, WriteResult } from '../mem/index.js'
import type { Entry, LeafFileMap, OpenResult, Stat } from '../tree/index.js'

export interface TreeClient {
  list(path: string): Promise<Entry[]>
  stat(path: string): Promise<Stat>
  /** exclusive (protocol 1.3): be the leaf's only user until closed; refused while others hold it. */
  open(path: string, options?: OpenOptions): Promise<OpenResult>
  read(handle: number, pieces: readonly ReadPiece[]): Promise<PieceResult[]>
  /** Reads each piece into target[at, at+length) (memory the caller owns and may reuse); one result per piece. */
  readInto(handle: number, pieces: readonly ReadIntoPiece[], target: Uint8Array): Promise<ReadIntoResult[]>
  /** In-process clients only: the range as spans of plain files (an image file), or undefined (then read). See MemoryView.fileSpans. */
  fileSpans?(handle: number, addr: bigint, length: number): Promise<FileSpans | undefined>
  /** In-process clients only: the whole leaf as a file map with its object's end (see Tree.fileMap), or undefined. */
  fileMap?(handle: number): Promise<LeafFileMap | undefined>
  write(handle: number, pieces: readonly WritePiece[]): Promise<WriteResult[]>
  rpc(handle: number, request: unknown): Promise<unknown>
  close(handle: number): Promise<void>
  /** Calls listener with the changed path whenever something at or below `path` changes. */
  watch(path: string, listener: (changed: string) => void): Promise<() => Promise<void>>
  disconnect(): Promise<void>
}

export interface OpenOptions {
  readonly exclusive?: boolean
}

export type { Entry, LeafFileMap, OpenResult, Stat } from '../tree/index.js'
export type { FileExtent, FileSpan, FileSpans, PieceResult, ReadIntoPiece, ReadIntoResult, ReadPiece, WritePiece, WriteResult } from '../mem/index.js'
