/**
 * `memweave gdbserver PATH --listen 127.0.0.1:PORT`: serves one process
 * branch of the tree (os/OS/processes/by-pid/PID, or one behind a peer) to
 * gdb's `target remote`. Memory writes need the program-wide --allow-write
 * (and a daemon that allows them). Runs until SIGINT/SIGTERM or until the
 * process goes away (exit code 1, with the reason).
 * gdbserver-command.ts defines the command and loads this file when it runs.
 */
import { MemweaveError } from '../../../errors/index.js'
import { parseListen, ProcessTarget, startGdbServer } from '../../gdb/index.js'
import type { GlobalOptions } from '../globals.js'
import { withClient } from '../session.js'
import { waitForStopSignal } from '../stop-signal.js'

export async function gdbserverCommand(globals: GlobalOptions, path: string, listenText: string): Promise<void> {
  const listen = parseListen(listenText)
  const branch = path.replace(/\/+$/, '')
  await withClient(globals, async ({ client, out }) => {
    const target = new ProcessTarget(client, branch, globals.allowWrite === true)
    await target.open()
    const name = await target.name()
    const log = (line: string): void => { process.stderr.write(`${line}\n`) }
    const server = await startGdbServer(target, listen, log)
    const where = `${server.address.host.includes(':') ? `[${server.address.host}]` : server.address.host}:${server.address.port}`
    // One line, so a script can wait for it.
    if (out.json) out.line(JSON.stringify({ listening: where, path: branch, name, allowWrite: target.allowWrite, pid: process.pid }))
    else out.line(`gdbserver for ${branch} (${name}) listening on ${where}${target.allowWrite ? ', writes allowed' : ''}: gdb -ex 'target remote ${where}'`)
    const stop = waitForStopSignal(() => process.exit(130))
    try {
      const ended = await Promise.race([server.closed, stop.promise.then(() => undefined)])
      await server.close()
      if (ended !== undefined) throw new MemweaveError('os', 'stale', `gdbserver ended: the process went away: ${ended}`)
    } finally {
      stop.dispose()
      await target.close()
    }
  }, { bulk: true })
}
