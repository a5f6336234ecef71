/**
 * Getting a unix socket path ready to listen on: its directory exists
 * (private 0700 for the default directories), a socket file left behind by a
 * dead daemon is removed, and a live daemon already there is a clear error,
 * never silently replaced.
 */
import { lstat, mkdir, unlink } from 'node:fs/promises'
import { connect } from 'node:net'
import { dirname } from 'node:path'
import { MemweaveError, errnoCode, toMemweaveError } from '../errors/index.js'
import { isDefaultSocketDir } from './listen-address.js'

const PROBE_TIMEOUT_MS = 2000


export async function prepareUnixSocket(path: string): Promise<void> {
  const dir = dirname(path)
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 })
  } catch (err) {
    throw toMemweaveError(err, 'net', `cannot create the socket directory ${dir}`)
  }
  if (isDefaultSocketDir(dir)) await checkPrivateDir(dir)
  let isSocket: boolean
  try {
    isSocket = (await lstat(path)).isSocket()
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return
    throw toMemweaveError(err, 'net', `cannot inspect ${path}`)
  }
  if (!isSocket) throw new MemweaveError('net', 'already_exists', `${path} exists and is not a socket; refusing to replace it`)
  if (await probe(path)) {
    throw new MemweaveError('net', 'busy', `another memweave daemon is already listening on ${path} (stop it first, or listen elsewhere)`)
  }
  try {
    await unlink(path)
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw toMemweaveError(err, 'net', `cannot remove the stale socket ${path}`)
  }
}

/** /tmp is shared: the default directory must be a real directory, ours, and not writable by others. */
async function checkPrivateDir(dir: string): Promise<void> {
  const info = await lstat(dir)
  const uid = process.getuid?.()
  if (!info.isDirectory()) throw new MemweaveError('net', 'permission', `${dir} is not a directory (a symlink?); refusing to put the socket there`)
  if (uid !== undefined && info.uid !== uid) throw new MemweaveError('net', 'permission', `${dir} belongs to uid ${info.uid}, not to us (uid ${uid})`)
  // Others able to write there could swap the socket for their own; reading it is harmless (the socket itself is 0600).
  if ((info.mode & 0o022) !== 0) throw new MemweaveError('net', 'permission', `${dir} is writable by other users (mode ${(info.mode & 0o777).toString(8)}); chmod 700 it`)
}

/** True when something accepts connections on the socket; false when nobody is behind it (stale file). */
function probe(path: string): Promise<boolean> {
  return new Promise((resolvePromise, reject) => {
    const socket = connect(path)
    const timer = setTimeout(() => {
      socket.destroy()
      // A listener that does not even accept is still alive; do not steal its path.
      resolvePromise(true)
    }, PROBE_TIMEOUT_MS)
    socket.once('connect', () => { clearTimeout(timer); socket.destroy(); resolvePromise(true) })
    socket.once('error', (err) => {
      clearTimeout(timer)
      socket.destroy()
      const code = errnoCode(err)
      if (code === 'ECONNREFUSED' || code === 'ENOENT') resolvePromise(false)
      else reject(toMemweaveError(err, 'net', `cannot probe the socket ${path}`))
    })
  })
}
