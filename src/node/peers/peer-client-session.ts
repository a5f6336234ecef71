/**
 * One live connection to a peer, as the node layer's PeerSession: the
 * protocol client's calls behind a gate that bounds what this node may have
 * outstanding with the peer (requests, read bytes), so a slow or stalled
 * peer makes callers fail fast with 'limit' instead of queueing without
 * end. Its lifetime ends with the connection.
 */
import { MemweaveError } from '../../errors/index.js'
import type { PieceResult, ReadIntoPiece, ReadIntoResult, ReadPiece, WritePiece, WriteResult } from '../../mem/index.js'
import type { PeerSession } from './peer-link.js'
import { Lifetime } from '../../tree/index.js'
import type { Entry, OpenResult, Stat } from '../../tree/index.js'
import type { ProtocolClient } from '../../net/index.js'
import type { PeerTuning } from './peer-spec.js'

let sessionSerial = 0

export class ProtocolPeerSession implements PeerSession {
  readonly serial = ++sessionSerial
  readonly remoteNodeId: string
  readonly lifetime: Lifetime
  private inFlight = 0
  private inFlightBytes = 0

  constructor(readonly peer: string, readonly client: ProtocolClient, private readonly tuning: PeerTuning) {
    this.remoteNodeId = client.serverInfo.nodeId
    this.lifetime = new Lifetime(`peer '${peer}'`)
  }

  list(path: string, via: readonly string[]): Promise<Entry[]> { return this.gate(0, () => this.client.list(path, via)) }
  stat(path: string, via: readonly string[]): Promise<Stat> { return this.gate(0, () => this.client.stat(path, via)) }
  open(path: string, via: readonly string[], options: { readonly exclusive?: boolean } = {}): Promise<OpenResult> { return this.gate(0, () => this.client.open(path, options, via)) }
  rpc(handle: number, request: unknown): Promise<unknown> { return this.gate(0, () => this.client.rpc(handle, request)) }
  close(handle: number): Promise<void> { return this.gate(0, () => this.client.close(handle)) }

  read(handle: number, pieces: readonly ReadPiece[]): Promise<PieceResult[]> {
    return this.gate(pieces.reduce((sum, p) => sum + p.length, 0), () => this.client.read(handle, pieces))
  }

  readInto(handle: number, pieces: readonly ReadIntoPiece[], target: Uint8Array): Promise<ReadIntoResult[]> {
    return this.gate(pieces.reduce((sum, p) => sum + p.length, 0), () => this.client.readInto(handle, pieces, target))
  }

  write(handle: number, pieces: readonly WritePiece[]): Promise<WriteResult[]> {
    return this.gate(0, () => this.client.write(handle, pieces))
  }

  get outstanding(): { requests: number; readBytes: number } {
    return { requests: this.inFlight, readBytes: this.inFlightBytes }
  }

  private async gate<T>(bytes: number, call: () => Promise<T>): Promise<T> {
    const { maxInFlight, maxInFlightBytes } = this.tuning
    if (this.inFlight >= maxInFlight) {
      throw new MemweaveError('node', 'limit', `peer '${this.peer}': ${maxInFlight} requests are already outstanding; try again when some are answered`)
    }
    if (bytes > 0 && this.inFlightBytes > 0 && this.inFlightBytes + bytes > maxInFlightBytes) {
      throw new MemweaveError('node', 'limit', `peer '${this.peer}': reads of ${this.inFlightBytes} bytes are already outstanding (limit ${maxInFlightBytes})`)
    }
    this.inFlight++
    this.inFlightBytes += bytes
    try {
      return await call()
    } finally {
      this.inFlight--
      this.inFlightBytes -= bytes
    }
  }
}
