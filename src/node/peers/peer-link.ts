/**
 * What the node layer needs from a connected peer, without knowing the
 * protocol: a PeerLink is one configured peer (up or down); while up it has
 * a PeerSession, the current connection, whose lifetime ends when that
 * connection drops. peer-connection.ts and peer-client-session.ts implement
 * these over the protocol; peer-manager.ts keeps the links.
 */
import type { PieceResult, ReadIntoPiece, ReadIntoResult, ReadPiece, WritePiece, WriteResult } from '../../mem/index.js'
import type { Entry, Lifetime, OpenResult, Stat } from '../../tree/index.js'

export interface PeerSession {
  /** Serial of this connection; identities of remote leaves include it, so a reconnection gives new handles. */
  readonly serial: number
  /** The remote node's id (from its hello). */
  readonly remoteNodeId: string
  /** Ends when this connection drops ("peer 'b' disconnected (…)") or the peer is removed. */
  readonly lifetime: Lifetime
  list(path: string, via: readonly string[]): Promise<Entry[]>
  stat(path: string, via: readonly string[]): Promise<Stat>
  open(path: string, via: readonly string[], options?: { readonly exclusive?: boolean }): Promise<OpenResult>
  read(handle: number, pieces: readonly ReadPiece[]): Promise<PieceResult[]>
  /** Reads into the caller's memory (big reads: the peer's bytes land there straight from its data channel). */
  readInto(handle: number, pieces: readonly ReadIntoPiece[], target: Uint8Array): Promise<ReadIntoResult[]>
  write(handle: number, pieces: readonly WritePiece[]): Promise<WriteResult[]>
  rpc(handle: number, request: unknown): Promise<unknown>
  close(handle: number): Promise<void>
}

export interface PeerLink {
  /** The local name: the peer's tree shows as NAME/, its objects as connector/NAME.X and os/NAME.Y. */
  readonly name: string
  /** The live session, or undefined while connecting or down. */
  current(): PeerSession | undefined
  /** The live session, or a 'disconnected' error naming the peer, its state and last error. */
  session(): PeerSession
}

export interface PeerDirectory {
  /** This node's own id (the one its server announces and forwarded requests append). */
  readonly nodeId: string
  get(name: string): PeerLink | undefined
  all(): readonly PeerLink[]
}
