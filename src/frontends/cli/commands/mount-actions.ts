/**
 * `memweave mount MOUNTPOINT`: mounts a daemon's tree (or, with --embedded,
 * an in-process node's) as a FUSE file system until SIGINT or SIGTERM, until
 * the daemon connection is lost, or until someone unmounts it from outside
 * (`fusermount3 -u`), then unmounts cleanly and exits 0.
 * mount-command.ts defines the command and loads this file when it runs.
 */
import { mountTree } from '../../fuse/index.js'
import { usageError } from '../cli-errors.js'
import { createLogger } from '../logger.js'
import type { GlobalOptions } from '../globals.js'
import { withClient } from '../session.js'
import { waitForStopSignal } from '../stop-signal.js'
import type { MountOptions } from './mount-command.js'

export async function mountCommand(globals: GlobalOptions, mountpoint: string, options: MountOptions): Promise<void> {
  const stop = waitForStopSignal(() => process.exit(130))
  try {
    await withClient(globals, async ({ client, out }) => {
      const log = createLogger({ level: globals.logLevel ?? 'info', json: globals.json === true })
      const mounted = await mountTree(client, mountpoint, {
        readOnly: options.readOnly === true,
        allowOther: options.allowOther === true,
        ...(options.uid === undefined ? {} : { uid: numericId(options.uid, '--uid') }),
        ...(options.gid === undefined ? {} : { gid: numericId(options.gid, '--gid') }),
        log,
      })
      if (out.json) out.jsonValue({ mounted: mounted.mountpoint, pid: process.pid })
      else out.line(`mounted on ${mounted.mountpoint}`)
      // A lost daemon ends the mount too: its files could only answer ENOTCONN.
      const lost = new Promise<string>((resolve) => {
        if ('onClose' in client && typeof client.onClose === 'function') client.onClose(() => resolve('daemon connection lost'))
      })
      // Unmounted from outside (fusermount3 -u, umount): nothing is left to serve, so exit as after a signal.
      const outside = mounted.ended().then(() => 'unmounted from outside')
      const why = await Promise.race([stop.promise, lost, outside])
      log.info({ why }, 'unmounting')
      await mounted.unmount()
      if (why !== 'daemon connection lost' || mounted.openFiles === 0) return
      // Files opened before the loss still read through us (ENOTCONN): serve them until they are closed
      // (or a stop signal), so none is left with an unanswered request when this process exits.
      log.info({ openFiles: mounted.openFiles }, 'the daemon is gone: answering ENOTCONN until the files still open are closed')
      // Bounded: a release the kernel never sends (a reader killed inside open, a lazily detached mount)
      // must not keep this process alive for ever.
      let graceTimer: NodeJS.Timeout | undefined
      const grace = new Promise<'grace'>((resolve) => { graceTimer = setTimeout(() => resolve('grace'), LOST_DAEMON_GRACE_MS) })
      try {
        const ended = await Promise.race([mounted.openFilesReleased(), stop.promise, grace])
        if (ended === 'grace') log.warn({ openFiles: mounted.openFiles, graceMs: LOST_DAEMON_GRACE_MS }, 'files still open after the grace period: exiting anyway')
      } finally {
        clearTimeout(graceTimer)
      }
    }, { bulk: true })
  } finally {
    stop.dispose()
  }
}

/** How long a mount whose daemon died keeps answering ENOTCONN for files still open. */
const LOST_DAEMON_GRACE_MS = 30_000

function numericId(value: string, option: string): number {
  if (!/^\d+$/.test(value)) throw usageError(`${option} takes a numeric id, not '${value}'`)
  return Number(value)
}
