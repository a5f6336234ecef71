/**
 * The daemon's runtime state directory, where its private files live (the
 * auto-generated tokens, the plugin bundles): `$MEMWEAVE_STATE_DIR`, else
 * /run/memweave for root, else `$XDG_RUNTIME_DIR/memweave`, else
 * /tmp/memweave-UID. It is created 0700 and must be a real directory owned
 * by us and closed to other users.
 */
import { lstat, mkdir } from 'node:fs/promises'
import { isAbsolute, join } from 'node:path'
import { MemweaveError, toMemweaveError } from '../errors/index.js'

export function runtimeStateDir(env: NodeJS.ProcessEnv = process.env, uid: number = process.getuid?.() ?? -1): string {
  const configured = env.MEMWEAVE_STATE_DIR
  if (configured !== undefined && configured !== '') return configured
  if (uid === 0) return '/run/memweave'
  const runtimeDir = env.XDG_RUNTIME_DIR
  if (runtimeDir !== undefined && isAbsolute(runtimeDir)) return join(runtimeDir, 'memweave')
  return `/tmp/memweave-${uid}`
}

/** Creates the directory (0700) if needed and checks it is ours and private; returns it. */
export async function ensurePrivateDir(dir: string): Promise<string> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 })
  } catch (err) {
    throw toMemweaveError(err, 'config', `cannot create the state directory ${dir}`)
  }
  const info = await lstat(dir)
  const uid = process.getuid?.()
  if (!info.isDirectory()) throw new MemweaveError('config', 'permission', `${dir} is not a directory (a symlink?); refusing to keep private files there`)
  if (uid !== undefined && info.uid !== uid) throw new MemweaveError('config', 'permission', `${dir} belongs to uid ${info.uid}, not to us (uid ${uid}); refusing to keep private files there`)
  if ((info.mode & 0o077) !== 0) {
    throw new MemweaveError('config', 'permission', `${dir} is open to other users (mode ${(info.mode & 0o777).toString(8)}); chmod 700 it`)
  }
  return dir
}
