/**
 * @module frontends/cli
 * The `memweave` command line: a daemon (`serve`) and client commands that
 * reach a tree through a TreeClient (a daemon over the protocol, or an
 * in-process node with --embedded).
 *
 *   argv ─commander─▶ command ─withClient─▶ TreeClient ─▶ daemon | embedded node
 */
export { buildProgram, runCli } from './program.js'
export { EXIT_FAILED, EXIT_NO_DAEMON, EXIT_OK, EXIT_USAGE } from './cli-errors.js'
export { loadConfig, parseConfig } from './config.js'
export type { MemweaveConfig, TlsFiles } from './config.js'
export type { ObjectSpec } from './control-lines.js'
