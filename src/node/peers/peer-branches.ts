/**
 * A peer's tree as local branches and leaves. Nothing is mirrored: listing
 * asks the peer for that one branch; resolving a name asks for that one
 * path (remembered briefly in a StatCache). Opening a remote leaf opens it
 * on the peer and gives a local handle that forwards reads, writes and
 * RPCs to the peer handle (its `chain`, e.g. ['b#17', 'c#4']). The leaf's
 * lifetime hangs under the peer connection's, so a lost peer makes every
 * handle through it stale; a peer answering 'stale' ends it too.
 */
import type { Logger } from 'pino'
import { MemweaveError } from '../../errors/index.js'
import { readIntoByCopy } from '../../mem/index.js'
import type { PieceResult, ReadIntoPiece, ReadIntoResult, ReadPiece, WritePiece, WriteResult } from '../../mem/index.js'
import { Lifetime } from '../../tree/index.js'
import type { Branch, Entry, Leaf, LeafMeta, OpenedLeaf, TreeNode } from '../../tree/index.js'
import { forwardVia } from './hop-rules.js'
import type { PeerLink, PeerSession } from './peer-link.js'
import { ReadBatcher } from './peer-read-batcher.js'
import { StatCache } from './peer-stat-cache.js'
import type { RemoteStat } from './peer-stat-cache.js'

export interface RemoteTreeContext {
  /** This node's id, appended to the hop chain of every forwarded request. */
  readonly selfId: string
  readonly log: Logger
  /** The stat cache of a session (one per connection, dropped with it). */
  cacheOf(session: PeerSession): StatCache
}

let resolveSerial = 0
/** readInto calls of at least this many bytes go to the peer on their own (its data channel takes them). */
const DIRECT_READ_BYTES = 64 * 1024

function childPath(parent: string, name: string): string {
  return parent === '' ? name : `${parent}/${name}`
}

/** The hop chain for a request to this peer, refusing loops (the peer is already in the chain). */
export function viaTo(context: RemoteTreeContext, session: PeerSession, localPath: string): string[] {
  return forwardVia(context.selfId, session.remoteNodeId, `'${localPath}'`)
}

/** What a remote path is (branch or leaf, with its metadata); undefined when the peer says it does not exist. */
export async function remoteStat(context: RemoteTreeContext, session: PeerSession, remotePath: string, localPath: string): Promise<RemoteStat | undefined> {
  const cache = context.cacheOf(session)
  const cached = cache.get(remotePath)
  if (cached !== undefined && (cached.type === 'branch' || cached.meta !== undefined)) return cached
  try {
    const stat = await session.stat(remotePath, viaTo(context, session, localPath))
    const found: RemoteStat = stat.meta === undefined ? { type: stat.type } : { type: stat.type, meta: stat.meta }
    cache.set(remotePath, found)
    return found
  } catch (err) {
    if (err instanceof MemweaveError && err.kind === 'not_found') return undefined
    throw err
  }
}

/** The branch at `remotePath` on a peer, shown locally at `localPath`. */
export function remoteBranch(context: RemoteTreeContext, link: PeerLink, remotePath: string, localPath: string): Branch {
  return {
    type: 'branch',
    list: async (): Promise<Entry[]> => {
      const session = link.session()
      const entries = await session.list(remotePath, viaTo(context, session, localPath))
      const cache = context.cacheOf(session)
      for (const entry of entries) cache.set(childPath(remotePath, entry.name), entry.meta === undefined ? { type: entry.type } : { type: entry.type, meta: entry.meta })
      return entries
    },
    get: async (name): Promise<TreeNode | undefined> => {
      const session = link.session()
      const path = childPath(remotePath, name)
      const local = childPath(localPath, name)
      const found = await remoteStat(context, session, path, local)
      if (found === undefined) return undefined
      if (found.type === 'branch') return remoteBranch(context, link, path, local)
      return remoteLeaf(context, link, session, path, local, found.meta)
    },
  }
}

const UNKNOWN_META: LeafMeta = { sizeBytes: undefined, readable: true, writable: false, rpc: false, content: 'binary' }

/**
 * A leaf on a peer. Its identity is new on every resolve, so each local open
 * opens on the peer (which shares its own handle while its object is
 * unchanged): a local handle never outlives a change made on the peer.
 */
export function remoteLeaf(
  context: RemoteTreeContext, link: PeerLink, session: PeerSession, remotePath: string, localPath: string, meta: LeafMeta | undefined,
): Leaf {
  const lifetime = new Lifetime('remote leaf:', session.lifetime)
  return {
    type: 'leaf',
    identity: `peer:${link.name}#${session.serial}:${remotePath}@${++resolveSerial}`,
    // Every resolve is a new identity, so holds are named by the peer and the path there.
    holdKey: `peer:${link.name}:${remotePath}`,
    lifetime,
    meta: () => meta ?? UNKNOWN_META,
    open: async (options): Promise<OpenedLeaf> => {
      const guard = staleGuard(link.name, localPath, lifetime)
      const opened = await guard(session.open(remotePath, viaTo(context, session, localPath), { exclusive: options?.exclusive === true }))
      const handle = opened.handle
      const batcher = new ReadBatcher((pieces) => session.read(handle, pieces))
      return {
        sizeBytes: opened.sizeBytes,
        chain: [`${link.name}#${handle}`, ...(opened.chain ?? [])],
        read: (pieces: readonly ReadPiece[]): Promise<PieceResult[]> => guard(batcher.read(pieces)),
        readInto: (pieces: readonly ReadIntoPiece[], target: Uint8Array): Promise<ReadIntoResult[]> => {
          const bytes = pieces.reduce((sum, p) => sum + p.length, 0)
          return guard(bytes >= DIRECT_READ_BYTES ? session.readInto(handle, pieces, target) : readIntoByCopy({ read: (p) => batcher.read(p) }, pieces, target))
        },
        write: (pieces: readonly WritePiece[]): Promise<WriteResult[]> => guard(session.write(handle, pieces)),
        rpc: (request: unknown): Promise<unknown> => guard(session.rpc(handle, request)),
        close: async (): Promise<void> => {
          // A lost peer has already dropped our reference along with the connection.
          if (session.lifetime.ended) return
          await session.close(handle).catch((err: unknown) => context.log.debug({ err, peer: link.name, handle }, 'closing a peer handle failed'))
        },
      }
    },
  }
}

/**
 * Turns the two ways a remote call learns its object is gone into a stale
 * handle here: the peer says 'stale', or the connection drops mid-call.
 */
function staleGuard(peer: string, localPath: string, lifetime: Lifetime) {
  return async <T>(call: Promise<T>): Promise<T> => {
    try {
      return await call
    } catch (err) {
      if (!(err instanceof MemweaveError)) throw err
      if (err.kind === 'stale') {
        lifetime.end(`(stale on peer '${peer}': ${err.message})`)
        throw err
      }
      if (err.kind === 'disconnected') {
        const reason = `peer '${peer}' disconnected (${err.message})`
        lifetime.end(reason)
        throw new MemweaveError('node', 'stale', `stale handle (${localPath}): ${reason}`, { cause: err })
      }
      throw err
    }
  }
}
