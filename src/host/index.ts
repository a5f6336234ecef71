/**
 * @module host
 * Host access for what a client asks of the daemon, a bottom layer beside
 * errors and addons, so that every layer that needs it uses the one copy:
 *
 *   openCheckedFile / readCheckedFile   a path a client named (file: dumps, symbols=, plugin files,
 *                                       peer CA and token files): roots, symlinks, regular files only
 *   runtimeStateDir / ensurePrivateDir  the daemon's private state directory (0700, ours)
 */
export { openCheckedFile, readCheckedFile } from './checked-open.js'
export type { CheckedFile, CheckedOpenOptions } from './checked-open.js'
export { ensurePrivateDir, runtimeStateDir } from './state-dir.js'
