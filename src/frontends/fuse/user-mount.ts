/**
 * Why a user other than root cannot mount on a directory, said before
 * libfuse tries. A user's mount goes through the setuid fusermount3, which
 * opens /dev/fuse as the user and mounts only on a directory the user may
 * write (and owns, if it is sticky, like /tmp). Its own messages do not reach
 * the user (it runs without our stdio), and libfuse then reports only an
 * errno, so these two causes are checked here and named with the path.
 */
import { constants } from 'node:fs'
import { access, stat } from 'node:fs/promises'
import { MemweaveError } from '../../errors/index.js'

export const FUSE_DEVICE = '/dev/fuse'
const STICKY = 0o1000

async function allowed(path: string, mode: number): Promise<boolean> {
  return access(path, mode).then(() => true, () => false)
}

/** Throws a MemweaveError (`permission`) when this user cannot mount on `path`; does nothing for root. */
export async function checkUserMount(path: string, uid = process.getuid?.() ?? 0, device = FUSE_DEVICE): Promise<void> {
  if (uid === 0) return
  if (!await allowed(device, constants.R_OK | constants.W_OK)) {
    const mode = await stat(device).then((s) => `mode ${(s.mode & 0o777).toString(8).padStart(4, '0')}, owner uid ${s.uid}`, () => 'absent')
    throw new MemweaveError('fuse', 'permission',
      `cannot mount on ${path}: ${device} (${mode}) is not open to uid ${uid}, so FUSE is kept to root on this machine ` +
      `(an administrator can allow users with 'chmod 0666 ${device}', the kernel's default)`)
  }
  const dir = await stat(path)
  if (!await allowed(path, constants.W_OK) || ((dir.mode & STICKY) !== 0 && dir.uid !== uid)) {
    throw new MemweaveError('fuse', 'permission',
      `cannot mount on ${path}: uid ${uid} does not own it or may not write to it (a user can mount only on a directory of their own)`)
  }
}
