/**
 * How a protocol client connects and behaves: its credentials, timeouts,
 * TLS trust, the largest reply it takes, and whether big reads may use the
 * data ring (unix socket) or a data channel (TCP).
 */
import type { Logger } from 'pino'
import type { DataRingOptions } from './client-data-ring.js'

export interface ClientOptions {
  token?: string
  /**
   * With no token, a client of a loopback TCP daemon reads the daemon's auto token from
   * `<stateDir>/tcp-<PORT>.token` when that file is ours (default); false never does.
   */
  autoToken?: boolean
  /** Per-request timeout in ms; none when unset. Also bounds connecting unless connectTimeoutMs is given. */
  timeoutMs?: number
  connectTimeoutMs?: number
  log?: Logger
  /** Shown in the daemon's logs ('cli', 'fuse', 'peer:NAME'). */
  name?: string
  /** Node ids this connection is made on behalf of (a peer forwards its own chain). */
  chain?: readonly string[]
  /**
   * For wss://: a CA certificate (PEM file) to trust, or the server certificate's SHA-256 fingerprint to
   * pin (then no CA is consulted), or rejectUnauthorized: false for self-signed tests.
   */
  tls?: { caFile?: string; ca?: Buffer; fingerprint?: string; rejectUnauthorized?: boolean }
  /** Largest reply accepted (default 1 GiB). */
  maxMessageBytes?: number
  /**
   * Over a unix socket, big read replies come through a shared ring file on tmpfs instead of the
   * socket when the daemon agrees (protocol 1.1); on by default there, false turns it off.
   */
  dataRing?: DataRingOptions | false
  /**
   * Over TCP, big reads come back on a data channel beside the WebSocket (protocol 1.6, data-channel.ts)
   * when the daemon offers one; on by default, false keeps everything on the WebSocket.
   */
  dataChannel?: boolean
}
