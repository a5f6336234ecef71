/**
 * @module frontends/gdb
 * A gdb remote-serial-protocol stub over one process of the tree:
 *
 *   gdb ──TCP (loopback)──▶ gdb-server ─▶ gdb-session ─▶ process-target ──TreeClient──▶ PATH/{mem,threads,auxv}
 *
 * It only reads the tree, so a process on a dump, a live guest or a peer
 * is served the same way.
 */
export { startGdbServer, parseListen } from './gdb-server.js'
export type { GdbServer } from './gdb-server.js'
export { ProcessTarget } from './process-target.js'
