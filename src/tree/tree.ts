/**
 * The tree facade: resolves paths on every call, and runs list, stat, open,
 * read, write, rpc and close through the handle table. This is the one door
 * the protocol server (and through it every frontend) uses.
 */
import { MemweaveError, quote, quoteHex, toMemweaveError } from '../errors/index.js'
import { checkTarget, readIntoByCopy } from '../mem/index.js'
import type { FileSpans, PieceResult, ReadIntoPiece, ReadIntoResult, ReadPiece, WritePiece, WriteResult } from '../mem/index.js'
import { ChangeBus } from './change-bus.js'
import { HandleTable } from './handles.js'
import type { HandleEntry } from './handles.js'
import { MappingRegistry } from './mappings.js'
import type { FilterFailure } from './mappings.js'
import { joinPath, splitPath } from './path.js'
import type { Branch, Entry, LeafFileMap, LeafMeta, RpcContext, TreeNode } from './tree-node.js'

export interface Stat {
  readonly path: string
  readonly type: 'leaf' | 'branch'
  readonly meta?: LeafMeta
}

export interface OpenResult {
  readonly handle: number
  readonly meta: LeafMeta
  /** Size as seen by this open (snapshot length for generated leaves). */
  readonly sizeBytes: bigint | undefined
  /** For a leaf on another node: the peer handles this one forwards to, nearest first. */
  readonly chain?: readonly string[]
}

export interface TreeOptions {
  /** Writes to memory leaves are refused unless this is set (control leaves always accept lines). */
  allowWrite: boolean
  /** Most pieces one read or write call may carry. */
  maxPieces?: number
  /** Most bytes one read call may ask for in total. */
  maxBatchBytes?: number
  /** Told the first time each mapping's filter throws (the mapping is then hidden); the node logs it. */
  onFilterError?: (failure: FilterFailure) => void
}

export const DEFAULT_MAX_PIECES = 65536
export const DEFAULT_MAX_BATCH_BYTES = 256 * 1024 * 1024

export class Tree {
  readonly handles = new HandleTable()
  readonly events = new ChangeBus()
  readonly registry: MappingRegistry
  readonly maxPieces: number
  readonly maxBatchBytes: number
  private rootBranch: Branch | undefined

  constructor(readonly options: TreeOptions) {
    this.maxPieces = options.maxPieces ?? DEFAULT_MAX_PIECES
    this.maxBatchBytes = options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES
    this.registry = new MappingRegistry(options.onFilterError)
  }

  setRoot(root: Branch): void {
    this.rootBranch = root
  }

  get root(): Branch {
    if (this.rootBranch === undefined) throw new MemweaveError('tree', 'internal', 'tree has no root yet')
    return this.rootBranch
  }

  async resolve(path: string): Promise<TreeNode> {
    const parts = splitPath(path)
    let node: TreeNode = this.root
    for (let i = 0; i < parts.length; i++) {
      if (node.type !== 'branch') {
        throw new MemweaveError('tree', 'not_a_branch', `${quote(joinPath(parts.slice(0, i)))} is a leaf, so ${quote(path)} does not exist`)
      }
      let child: TreeNode | undefined
      try {
        child = await node.get(parts[i] ?? '')
      } catch (err) {
        throw toMemweaveError(err, 'tree', `cannot resolve ${quote(joinPath(parts.slice(0, i + 1)))}`)
      }
      if (child === undefined) throw new MemweaveError('tree', 'not_found', `no such path: ${quote(joinPath(parts.slice(0, i + 1)))}`)
      node = child
    }
    return node
  }

  async list(path: string): Promise<Entry[]> {
    const node = await this.resolve(path)
    if (node.type !== 'branch') throw new MemweaveError('tree', 'not_a_branch', `${quote(path)} is a leaf, not a branch`)
    const entries = await node.list()
    return entries.sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }))
  }

  async stat(path: string): Promise<Stat> {
    const node = await this.resolve(path)
    const normalized = joinPath(splitPath(path))
    if (node.type === 'branch') return { path: normalized, type: 'branch' }
    return { path: normalized, type: 'leaf', meta: await node.meta() }
  }

  /** exclusive: see exclusive-holds.ts (refused while another owner holds the leaf). */
  async open(path: string, owner: string, options: { readonly exclusive?: boolean } = {}): Promise<OpenResult> {
    const node = await this.resolve(path)
    if (node.type !== 'leaf') throw new MemweaveError('tree', 'not_a_leaf', `${quote(path)} is a branch; only leaves can be opened`)
    const entry = await this.handles.open(joinPath(splitPath(path)), node, owner, options)
    const chain = entry.opened.chain
    return { handle: entry.handle, meta: entry.meta, sizeBytes: entry.opened.sizeBytes, ...(chain === undefined || chain.length === 0 ? {} : { chain }) }
  }

  async read(handle: number, pieces: readonly ReadPiece[], owner: string): Promise<PieceResult[]> {
    this.checkRead(pieces)
    const entry = await this.handles.get(handle, owner)
    if (entry.opened.read === undefined) throw new MemweaveError('tree', 'unsupported', `'${entry.path}' cannot be read`)
    return guardResults(entry, await entry.opened.read(pieces), pieces.length)
  }

  /** read() into the caller's memory: each piece at target[at, at+length), one result per piece. */
  async readInto(handle: number, pieces: readonly ReadIntoPiece[], target: Uint8Array, owner: string): Promise<ReadIntoResult[]> {
    this.checkRead(pieces)
    checkTarget(pieces, target)
    const entry = await this.handles.get(handle, owner)
    const opened = entry.opened
    if (opened.readInto !== undefined) return guardResults(entry, await opened.readInto(pieces, target), pieces.length)
    if (opened.read === undefined) throw new MemweaveError('tree', 'unsupported', `'${entry.path}' cannot be read`)
    const read = opened.read.bind(opened)
    return guardResults(entry, await readIntoByCopy({ read: async (p) => guardResults(entry, await read(p), p.length) }, pieces, target), pieces.length)
  }

  /** A range of a leaf as spans of plain files, when its source is one (an image file); undefined otherwise (then read). */
  async fileSpans(handle: number, addr: bigint, length: number, owner: string): Promise<FileSpans | undefined> {
    this.checkRead([{ addr, length }])
    const entry = await this.handles.get(handle, owner)
    return entry.opened.fileSpans?.(addr, length)
  }

  /** The whole leaf as a file map, with its object's end, when its source is one (an image file); undefined otherwise. */
  async fileMap(handle: number, owner: string): Promise<LeafFileMap | undefined> {
    const entry = await this.handles.get(handle, owner)
    const map = entry.opened.fileMap?.()
    if (map === undefined) return undefined
    const lifetime = entry.leaf.lifetime
    return { fd: map.fd, extents: map.extents, release: () => map.release(), onEnd: (listener) => lifetime.onEnd(listener) }
  }

  async write(handle: number, pieces: readonly WritePiece[], owner: string): Promise<WriteResult[]> {
    this.checkBatch(pieces.length, pieces.reduce((sum, p) => sum + p.data.length, 0), 'write')
    for (const piece of pieces) this.checkPiece(piece.addr, piece.data.length)
    const entry = await this.handles.get(handle, owner)
    if (entry.opened.write === undefined || !entry.meta.writable) throw new MemweaveError('tree', 'permission', `'${entry.path}' is not writable`)
    if (entry.meta.content !== 'control' && !this.options.allowWrite) {
      throw new MemweaveError('tree', 'permission', `writes to '${entry.path}' are disabled: start the daemon with --allow-write`)
    }
    return guardResults(entry, await entry.opened.write(pieces), pieces.length)
  }

  async rpc(handle: number, request: unknown, owner: string, context?: RpcContext): Promise<unknown> {
    const entry = await this.handles.get(handle, owner)
    if (entry.opened.rpc === undefined) throw new MemweaveError('tree', 'unsupported', `'${entry.path}' takes no rpc`)
    return entry.opened.rpc(request, context)
  }

  close(handle: number, owner: string): Promise<void> {
    return this.handles.close(handle, owner)
  }

  /** Throws what read() would refuse before touching a handle: the server checks this before counting a read as in flight. */
  checkRead(pieces: readonly ReadPiece[]): void {
    this.checkBatch(pieces.length, pieces.reduce((sum, p) => sum + p.length, 0), 'read')
    for (const piece of pieces) this.checkPiece(piece.addr, piece.length)
  }

  private checkBatch(count: number, bytes: number, what: string): void {
    if (count > this.maxPieces) throw new MemweaveError('tree', 'too_large', `${what} of ${count} pieces exceeds the limit of ${this.maxPieces}`)
    if (bytes > this.maxBatchBytes) throw new MemweaveError('tree', 'too_large', `${what} of ${bytes} bytes exceeds the limit of ${this.maxBatchBytes}`)
  }

  private checkPiece(addr: bigint, length: number): void {
    if (addr < 0n || addr >= 1n << 64n) throw new MemweaveError('tree', 'out_of_bounds', `offset ${quoteHex(addr)} is outside 0..2^64`)
    if (!Number.isSafeInteger(length) || length < 0) throw new MemweaveError('tree', 'invalid_argument', `length ${quoteHex(length)} is not a byte count`)
  }
}

/** A leaf that answers with the wrong number of results is a bug; do not let it confuse callers. */
function guardResults<R>(entry: HandleEntry, results: R[], expected: number): R[] {
  if (results.length !== expected) {
    throw new MemweaveError('tree', 'internal', `'${entry.path}' answered ${results.length} results for ${expected} pieces`)
  }
  return results
}
