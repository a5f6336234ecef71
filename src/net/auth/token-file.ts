/**
 * The auto-generated token of a TCP listener: 32 random bytes (hex) written
 * to `<stateDir>/tcp-<PORT>.token`, mode 0600, removed when the daemon stops.
 * A client connecting to a loopback port with no token of its own reads that
 * file, but only if it is a regular file owned by the client's own uid: that
 * is how the CLI, `mount` and peers reach a local daemon of the same user
 * with nothing to configure.
 */
import { randomBytes } from 'node:crypto'
import { constants } from 'node:fs'
import { open, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { errnoCode, toMemweaveError } from '../../errors/index.js'
import { ensurePrivateDir, runtimeStateDir } from './state-dir.js'

/** A token file is a short line; anything bigger is not one. */
const MAX_TOKEN_FILE_BYTES = 4096

export function newToken(): string {
  return randomBytes(32).toString('hex')
}

export function autoTokenPath(port: number, stateDir: string = runtimeStateDir()): string {
  return join(stateDir, `tcp-${port}.token`)
}

/** Writes the token for a bound port (replacing a file a crashed daemon left behind); returns the path. */
export async function writeAutoToken(port: number, token: string, stateDir: string = runtimeStateDir()): Promise<string> {
  await ensurePrivateDir(stateDir)
  const path = autoTokenPath(port, stateDir)
  try {
    await unlink(path).catch((err: unknown) => { if (errnoCode(err) !== 'ENOENT') throw err })
    // O_EXCL + O_NOFOLLOW: never write through a file or link someone put there in between.
    const handle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600)
    try {
      await handle.writeFile(`${token}\n`)
    } finally {
      await handle.close()
    }
  } catch (err) {
    throw toMemweaveError(err, 'config', `cannot write the token file ${path}`)
  }
  return path
}

/** Removes a token file this daemon wrote, if it still holds that token (a restarted daemon may own it now). */
export async function removeAutoToken(path: string, token: string): Promise<void> {
  const current = await readOwnedToken(path)
  if (current === token) await unlink(path).catch(() => undefined)
}

/**
 * The token of a local daemon at this port, when its file exists, is a regular file owned by us and no
 * bigger than a token; undefined otherwise (the daemon then refuses us and says where its token lives).
 */
export async function discoverToken(port: number, stateDir: string = runtimeStateDir()): Promise<string | undefined> {
  return readOwnedToken(autoTokenPath(port, stateDir))
}

async function readOwnedToken(path: string): Promise<string | undefined> {
  let handle
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch {
    return undefined // absent (or a link): nothing to discover
  }
  try {
    const info = await handle.stat()
    const uid = process.getuid?.()
    if (!info.isFile() || (uid !== undefined && info.uid !== uid) || info.size > MAX_TOKEN_FILE_BYTES) return undefined
    const token = (await handle.readFile('utf8')).trim()
    return token === '' ? undefined : token
  } finally {
    await handle.close()
  }
}

