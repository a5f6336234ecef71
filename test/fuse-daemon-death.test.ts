/**
 * A daemon that dies under a `memweave mount`: a real daemon, a real
 * `memweave mount` process over its unix socket, 8 `dd` reading through the
 * mount in parallel, and SIGKILL to the daemon once each dd has read. Every
 * read in flight, and a read through a file opened before the death and
 * issued after it, must fail with ENOTCONN ("Transport endpoint is not
 * connected"), never EBADF or anything else; the mount process then unmounts
 * and exits.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdir, mkdtemp, open, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { spawnCli, startDaemon } from './cli-kit.js'
import { fuseUnavailable } from './fuse-kit.js'
import { waitFor } from './wait-for.js'

const READERS = 8
const GIB = 1024 ** 3

interface Reader { readonly child: ChildProcess; stderr: string; readonly exited: Promise<[number | null, NodeJS.Signals | null]> }

function startReader(script: string): Reader {
  // This test process holds no /dev/fuse (the mount is another process), so children inherit none.
  const child = spawn('bash', ['-c', script], { stdio: ['pipe', 'ignore', 'pipe'] })
  // 'close', not 'exit': exit can come before the last of stderr has been read (an empty message for a dd that failed).
  const reader: Reader = { child, stderr: '', exited: once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]> }
  child.stderr?.on('data', (chunk: Buffer) => { reader.stderr += chunk.toString('utf8') })
  return reader
}

/** Bytes a process has read (rchar of /proc/PID/io); 0 once it is gone. */
async function bytesRead(pid: number | undefined): Promise<number> {
  const io = await readFile(`/proc/${pid}/io`, 'utf8').catch(() => '')
  return Number(/^rchar:\s+(\d+)$/m.exec(io)?.[1] ?? 0)
}

describe('a mount whose daemon dies', { skip: fuseUnavailable() ?? false }, () => {
  let dir = ''

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mw-fuse-death-'))
    const image = await open(join(dir, 'big.raw'), 'w')
    await image.truncate(64 * GIB) // sparse: far more than the readers get through before the kill
    await image.close()
    await mkdir(join(dir, 'mnt'))
  })

  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('answers ENOTCONN to every read in flight and to reads issued after the death, then unmounts', async () => {
    const socket = join(dir, 'd.sock')
    const daemon = await startDaemon(['--listen', `unix:${socket}`, '--file-root', dir, '--log-level', 'warn', '--with', `connector d file:${join(dir, 'big.raw')}`])
    const mnt = join(dir, 'mnt')
    const mount = spawnCli(['--daemon', `unix:${socket}`, '--log-level', 'info', 'mount', mnt, '--read-only'])
    let mountLog = ''
    mount.stderr?.on('data', (chunk: Buffer) => { mountLog += chunk.toString('utf8') })
    mount.stdout?.on('data', (chunk: Buffer) => { mountLog += chunk.toString('utf8') })
    const mountExited = once(mount, 'exit')
    const readers: Reader[] = []
    let later: Reader | undefined
    try {
      await waitFor('the mount is up', () => /mounted on /.test(mountLog), { limitMs: 60_000 })
      const mem = join(mnt, 'connector/d/mem')
      for (let i = 0; i < READERS; i++) readers.push(startReader(`dd if=${mem} of=/dev/null bs=128k skip=${i * 4096} status=none`))
      // One more opens the file now and reads from it only when told to, after the daemon is dead.
      later = startReader(`exec 3<${mem}; read -r go; dd of=/dev/null bs=4k count=1 status=none <&3`)
      // Each dd has got data through the mount: all are reading when the daemon dies.
      for (const r of readers) {
        await waitFor(`dd ${r.child.pid} has read 4 MiB`, async () => await bytesRead(r.child.pid) >= 4 << 20, { limitMs: 60_000 })
      }
      assert.ok(readers.every((r) => r.child.exitCode === null), 'every dd still reading')
      daemon.child.kill('SIGKILL')
      await once(daemon.child, 'exit')

      const ends = await Promise.all(readers.map((r) => r.exited))
      readers.forEach((r, i) => {
        assert.equal(ends[i]?.[0], 1, `dd ${i} failed: ${r.stderr}`)
        assert.match(r.stderr, /Transport endpoint is not connected/, `dd ${i}`)
      })
      await waitFor('the mount saw the daemon go', () => /daemon connection lost/.test(mountLog), { limitMs: 60_000 })
      later.child.stdin?.end('go\n')
      const [laterCode] = await later.exited
      assert.equal(laterCode, 1, later.stderr)
      assert.match(later.stderr, /Transport endpoint is not connected/)
      const [mountCode] = await mountExited
      assert.equal(mountCode, 0, mountLog)
      assert.doesNotMatch(mountLog, /EBADF|Bad file descriptor/)
      // libfuse3 tells the mount when the kernel connection is gone, so a release the kernel dropped with it
      // (the last close of a lazily unmounted mount) does not keep it waiting for the grace period.
      if (/binding=libfuse3/.test(mountLog)) assert.doesNotMatch(mountLog, /files still open after the grace period/)
    } finally {
      // A failed assertion must not leave the waiting reader behind (it would keep this test file running).
      for (const r of [...readers, ...(later === undefined ? [] : [later])]) r.child.kill('SIGKILL')
      mount.kill('SIGTERM')
      if (daemon.child.exitCode === null && daemon.child.signalCode === null) daemon.child.kill('SIGKILL')
    }
  })
})
