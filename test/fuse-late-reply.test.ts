/**
 * A reply that comes after its FUSE session was destroyed. A real mount
 * (libfuse3) served by this process over a real daemon (a child `memweave
 * serve` on a unix socket) has a read in flight in JavaScript: the daemon is
 * SIGSTOPped, so the read waits on the daemon's answer. The kernel connection
 * is then aborted (`umount -f`, which makes the kernel abort a FUSE
 * connection), the session ends and /dev/fuse is closed. A new file takes
 * the descriptor number /dev/fuse had; the daemon is let go (SIGCONT) and its
 * late answer reaches the mount's reply path. That reply must go nowhere: the
 * file that now holds the old descriptor number stays empty, nothing throws,
 * every handle the mount held is closed at the daemon, and the process
 * serves a new mount afterwards.
 */
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, open, readdir, readlink, rm, writeFile } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { libfuse3Unavailable } from '../src/frontends/fuse/fuse-binding.js'
import { mountAt, mountTree } from '../src/frontends/fuse/index.js'
import { connectClient, readLeaf } from '../src/net/index.js'
import type { ProtocolClient } from '../src/net/index.js'
import { startDaemon } from './cli-kit.js'
import type { RunningDaemon } from './cli-kit.js'
import { fuseUnavailable, sh, startShell, testLog } from './fuse-kit.js'
import { waitFor } from './wait-for.js'

/** Descriptors of /dev/fuse this process holds. */
async function fuseDescriptors(): Promise<number[]> {
  const fds: number[] = []
  for (const name of await readdir('/proc/self/fd')) {
    if (await readlink(`/proc/self/fd/${name}`).catch(() => '') === '/dev/fuse') fds.push(Number(name))
  }
  return fds
}

/** Handles open at the daemon on the mem leaf (its sys/handles leaf). */
async function memHandles(client: ProtocolClient): Promise<number> {
  const handles = JSON.parse(Buffer.from(await readLeaf(client, 'sys/handles')).toString('utf8')) as { path: string }[]
  return handles.filter((h) => h.path === 'connector/d/mem').length
}

function unavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'aborting a FUSE connection (umount -f) needs root'
  return fuseUnavailable() ?? libfuse3Unavailable()
}

describe('a reply after its FUSE session was destroyed', { skip: unavailable() ?? false }, () => {
  let dir = ''
  let daemon: RunningDaemon | undefined
  let client: ProtocolClient | undefined

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mw-fuse-late-'))
    const image = Buffer.alloc(4 << 20)
    for (let i = 0; i < image.length; i++) image[i] = (i * 7 + (i >> 16)) & 0xff
    await writeFile(join(dir, 'image.raw'), image)
    await mkdir(join(dir, 'mnt'))
    const socket = join(dir, 'd.sock')
    daemon = await startDaemon(['--listen', `unix:${socket}`, '--log-level', 'warn', '--with', `connector d file:${join(dir, 'image.raw')}`])
    client = await connectClient(`unix:${socket}`, { name: 'late-reply' })
  })

  after(async () => {
    if (daemon !== undefined) { daemon.child.kill('SIGCONT'); await daemon.stop() }
    await client?.disconnect().catch(() => undefined)
    await sh(`umount -l ${join(dir, 'mnt')} 2>/dev/null; true`)
    await rm(dir, { recursive: true, force: true })
  })

  it('goes nowhere: the descriptor /dev/fuse had is not written, nothing throws, the handles are closed', async () => {
    assert.ok(daemon !== undefined && client !== undefined)
    const mnt = join(dir, 'mnt')
    const reads: string[] = []
    // The real client, observed: a read has left for the daemon once this is called.
    const watched = new Proxy(client, {
      get(target, key, receiver) {
        const value: unknown = Reflect.get(target, key, receiver)
        if (key !== 'read' && key !== 'readInto') return typeof value === 'function' ? value.bind(target) : value
        return typeof value === 'function' ? (...args: unknown[]) => { reads.push(String(key)); return value.apply(target, args) } : value
      },
    })
    const mounted = await mountTree(watched, mnt, { readOnly: true, log: testLog(), implementation: 'libfuse3', readAheadBytes: 0 })
    const errors: unknown[] = []
    const onError = (err: unknown): void => { errors.push(err) }
    process.on('uncaughtException', onError)
    let reused: FileHandle | undefined
    const fillers: FileHandle[] = []
    // The reader opens the leaf now and reads only when told to.
    const reader = await startShell(`exec 3<${mnt}/connector/d/mem; echo ready; read -r _; dd of=/dev/null bs=64k count=1 status=none <&3; echo "dd $?" >&2`)
    let readerDone: Promise<number | null> | undefined
    try {
      assert.equal(await memHandles(client), 1, 'the reader holds the leaf open through the mount')
      const [fuseFd] = await fuseDescriptors()
      assert.ok(fuseFd !== undefined, 'this process holds /dev/fuse')
      daemon.child.kill('SIGSTOP')
      readerDone = reader.finish() // its stdin closes: it reads now
      await waitFor('the read is in flight at the daemon', () => reads.length > 0)

      await sh(`umount -f ${mnt}`)
      await mounted.ended()
      assert.deepEqual(await fuseDescriptors(), [], 'the session closed /dev/fuse')
      // open() takes the lowest free descriptor: lower ones freed meanwhile are filled first, then the one /dev/fuse
      // had. A reply written to it would land in this file.
      for (let i = 0; i < 16 && reused === undefined; i++) {
        const file = await open(join(dir, `reused-${i}`), 'w+')
        if (file.fd === fuseFd) reused = file
        else fillers.push(file)
      }
      assert.ok(reused !== undefined, `a new file took descriptor ${fuseFd}, which /dev/fuse had`)

      daemon.child.kill('SIGCONT')
      await waitFor('the mount closed its handle at the daemon', async () => await memHandles(client as ProtocolClient) === 0)
      await mounted.unmount()
      assert.equal((await reused.stat()).size, 0, 'nothing was written to the descriptor /dev/fuse had')
      assert.deepEqual(errors, [])
      assert.equal(mounted.openFiles, 0)
    } finally {
      process.off('uncaughtException', onError)
      daemon.child.kill('SIGCONT')
      await reused?.close()
      for (const file of fillers) await file.close()
      await (readerDone ?? reader.finish())
      await sh(`umount -l ${mnt} 2>/dev/null; true`)
    }
    // The process goes on serving: a new mount at the same place reads the leaf.
    const again = await mountTree(client, mnt, { readOnly: true, log: testLog(), implementation: 'libfuse3' })
    try {
      const read = await sh(`dd if=${mnt}/connector/d/mem bs=4k count=1 status=none | od -An -tx1 -N4`)
      assert.equal(read.stdout.trim(), '00 07 0e 15')
    } finally {
      await again.unmount()
    }
    assert.equal(await mountAt(mnt), undefined)
  })
})
