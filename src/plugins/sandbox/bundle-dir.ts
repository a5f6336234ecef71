/**
 * The daemon's private folder for plugin bundles:
 * `<state dir>/plugin-bundles-<PID>-<random>/`, mode 0700, bundles 0600 inside. No
 * other user (the sandboxed plugins' `nobody` included) can list or read
 * it; a plugin gets its bundle over its pipe. Folders of daemons that
 * died without cleaning up (a crash, SIGKILL) are removed when the next
 * host starts (and again when it makes its own folder); the own folder is
 * removed on close and at process exit.
 */
import { rmSync } from 'node:fs'
import { lstat, mkdtemp, readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { MemweaveError, toMemweaveError } from '../../errors/index.js'
import { ensurePrivateDir, runtimeStateDir } from '../../host/index.js'

const PREFIX = 'plugin-bundles-'
const STALE = /^plugin-bundles-(\d+)-[A-Za-z0-9]+$/

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: it exists, under another user.
    return !(err instanceof Error && 'code' in err && err.code === 'ESRCH')
  }
}

/** Removes the bundle folders of daemons that are gone (several hosts of one process each have their own). */
export async function removeStaleBundleDirs(base: string = runtimeStateDir()): Promise<void> {
  for (const entry of await readdir(base).catch(() => [])) {
    const pid = Number(STALE.exec(entry)?.[1])
    if (!Number.isSafeInteger(pid) || pid <= 0 || alive(pid)) continue
    await rm(join(base, entry), { recursive: true, force: true }).catch(() => undefined)
  }
}

export class BundleDir {
  private constructor(readonly path: string, private readonly exitCleanup: () => void) {}

  /** Creates the folder under `base` (default: the runtime state directory, made 0700 if needed). */
  static async create(base: string = runtimeStateDir()): Promise<BundleDir> {
    await ensurePrivateDir(base)
    await removeStaleBundleDirs(base)
    let path: string
    try {
      path = await mkdtemp(join(base, `${PREFIX}${process.pid}-`))
    } catch (err) {
      throw toMemweaveError(err, 'plugin', `cannot create a plugin bundle folder in ${base}`)
    }
    const info = await lstat(path)
    if (!info.isDirectory() || (info.mode & 0o077) !== 0) throw new MemweaveError('plugin', 'permission', `${path} is not a private folder (mode ${(info.mode & 0o777).toString(8)})`)
    const cleanup = (): void => rmSync(path, { recursive: true, force: true })
    process.once('exit', cleanup)
    return new BundleDir(path, cleanup)
  }

  async remove(): Promise<void> {
    process.off('exit', this.exitCleanup)
    await rm(this.path, { recursive: true, force: true })
  }
}
