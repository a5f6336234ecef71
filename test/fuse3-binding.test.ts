/**
 * The libfuse3 binding (native/fuse3 + src/frontends/fuse/fuse3-binding.ts)
 * on a real mount, with small hand-written operations instead of a tree:
 * reads of 1 MiB arrive as one request each (libfuse 2 capped them at
 * 128 KiB), several requests are in flight at once and all answered, a
 * handler that throws answers EIO and the mount lives on, /dev/fuse is not
 * inherited by children, and unmounting ends the session and closes it.
 * Read only by child processes (this process's event loop serves the mount).
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readdir, readFile, readlink, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { chooseFuseImplementation, libfuse3Unavailable } from '../src/frontends/fuse/fuse-binding.js'
import type { FuseOperations, FuseStat } from '../src/frontends/fuse/fuse-binding.js'
import { Fuse3Binding } from '../src/frontends/fuse/fuse3-binding.js'
import { mountAt } from '../src/frontends/fuse/index.js'
import { fuseUnavailable, sh } from './fuse-kit.js'

const BIG = 8 << 20
const GATE = 4
const ENOENT = -2
const EPERM = -1

function fileStat(size: number, mode = 0o100444): FuseStat {
  const at = new Date(0)
  return { mode, uid: 0, gid: 0, size, nlink: 1, blksize: 4096, blocks: 0, atime: at, mtime: at, ctime: at }
}

function byteAt(offset: number): number {
  return (offset * 7 + (offset >> 16)) & 0xff
}

/** Files: big (8 MiB of a pattern), gate-N (reads wait until GATE are pending), boom (its getattr throws). */
class TestOps {
  readonly readSizes: number[] = []
  written = 0
  truncates = 0
  private readonly held: (() => void)[] = []
  gateOpenedBy: 'readers' | 'timer' | undefined
  private gateTimer: NodeJS.Timeout | undefined

  armGate(): void {
    this.gateTimer = setTimeout(() => this.openGate('timer'), 20_000)
  }

  private openGate(by: 'readers' | 'timer'): void {
    this.gateOpenedBy ??= by
    clearTimeout(this.gateTimer)
    for (const release of this.held.splice(0)) release()
  }

  operations(): FuseOperations {
    const fail = (done: (result: number) => void): void => done(-5)
    return {
      init: (done) => done(0),
      statfs: (_path, done) => done(0, { bsize: 4096, frsize: 4096, blocks: 0, bfree: 0, bavail: 0, files: 0, ffree: 0, favail: 0, fsid: 0, flag: 0, namemax: 255 }),
      getattr: (path, done) => {
        if (path === '/') done(0, fileStat(0, 0o40555))
        else if (path === '/big') done(0, fileStat(BIG))
        else if (path.startsWith('/gate-')) done(0, fileStat(4096))
        else if (path === '/boom') throw new Error('a handler bug')
        else if (path === '/w') done(0, fileStat(4096, 0o100644))
        else done(ENOENT)
      },
      readdir: (_path, done) => done(0, ['.', '..', 'big', 'boom', ...Array.from({ length: GATE }, (_, i) => `gate-${i}`)]),
      open: (_path, _flags, done) => done(0, 7),
      release: (_path, _fd, done) => done(0),
      read: (_path, _fd, _buffer, _length, _offset, done) => fail(done),
      readData: (path, _fd, length, offset, done) => {
        this.readSizes.push(length)
        const answer = (): void => done(0, Uint8Array.from({ length: Math.max(0, Math.min(length, BIG - offset)) }, (_, i) => byteAt(offset + i)))
        if (!path.startsWith('/gate-') || this.gateOpenedBy !== undefined) { answer(); return }
        this.held.push(answer)
        if (this.held.length >= GATE) this.openGate('readers')
      },
      write: (_path, _fd, _buffer, length, _offset, done) => { this.written += length; done(length) },
      truncate: (_path, _size, done) => { this.truncates++; done(EPERM) },
      ftruncate: (_path, _fd, _size, done) => { this.truncates++; done(EPERM) },
      utimens: (_path, _atime, _mtime, done) => done(0),
      create: (_path, _mode, done) => done(-1),
    }
  }
}

async function devFuseDescriptors(): Promise<{ fd: string; flags: number }[]> {
  const out: { fd: string; flags: number }[] = []
  for (const fd of await readdir('/proc/self/fd')) {
    if (await readlink(`/proc/self/fd/${fd}`).then((t) => t === '/dev/fuse', () => false)) {
      const info = await readFile(`/proc/self/fdinfo/${fd}`, 'utf8')
      out.push({ fd, flags: Number.parseInt(/^flags:\s+(\d+)/m.exec(info)?.[1] ?? '0', 8) })
    }
  }
  return out
}

const O_CLOEXEC = 0o2000000

describe('the libfuse3 binding on a real mount', { skip: fuseUnavailable() ?? libfuse3Unavailable() ?? false }, () => {
  let dir = ''
  let mnt = ''
  const ops = new TestOps()
  let binding: Fuse3Binding | undefined
  let before_: { fd: string; flags: number }[] = []

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mw-fuse3-'))
    mnt = join(dir, 'mnt')
    await mkdir(mnt)
    before_ = await devFuseDescriptors()
    binding = new Fuse3Binding(mnt, ops.operations(), {
      fsname: 'memweave', allowOther: false, maxReadBytes: 1 << 20, debug: false,
      extraOptions: ['subtype=memweave-test', 'direct_io', 'default_permissions', 'attr_timeout=0', 'entry_timeout=0', 'negative_timeout=0'],
    })
    await binding.mount()
  })

  after(async () => {
    await binding?.unmount()
    await rm(dir, { recursive: true, force: true })
  })

  it('is what a mount picks here unless told otherwise', () => {
    assert.equal(chooseFuseImplementation(''), 'libfuse3')
    assert.equal(chooseFuseImplementation('fuse-native'), 'fuse-native')
    assert.throws(() => chooseFuseImplementation('libfuse9'), /unknown FUSE binding/)
  })

  it('receives a 1 MiB read as one request, not 128 KiB pieces, and answers it whole', async () => {
    const result = await sh(`dd if=${mnt}/big bs=1M count=8 status=none | sha256sum`)
    assert.equal(result.code, 0, result.stderr)
    const expected = createHash('sha256').update(Uint8Array.from({ length: BIG }, (_, i) => byteAt(i))).digest('hex')
    assert.equal(result.stdout.split(' ')[0], expected)
    assert.ok(Math.max(...ops.readSizes) > 128 << 10, `largest request ${Math.max(...ops.readSizes)} bytes`)
    assert.equal(Math.max(...ops.readSizes), 1 << 20)
  })

  it(`answers ${GATE} requests that are in flight at once`, async () => {
    ops.armGate()
    const readers = Array.from({ length: GATE }, (_, i) => `dd if=${mnt}/gate-${i} bs=4096 count=1 status=none | wc -c &`)
    const result = await sh(`${readers.join('\n')}\nwait`)
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(result.stdout.trim().split(/\s+/), Array.from({ length: GATE }, () => '4096'))
    assert.equal(ops.gateOpenedBy, 'readers', `all ${GATE} reads were pending together`)
  })

  it('answers EIO for a handler that throws, and keeps serving', async () => {
    const boom = await sh(`stat ${mnt}/boom`)
    assert.notEqual(boom.code, 0)
    assert.match(boom.stderr, /Input\/output error/)
    const listing = await sh(`ls ${mnt}`)
    assert.equal(listing.code, 0, listing.stderr)
    assert.match(listing.stdout, /^big$/m)
    assert.match((await sh(`stat ${mnt}/nothing`)).stderr, /No such file or directory/)
  })

  it('sends O_TRUNC as a truncate (refused here), and writes with conv=notrunc', async () => {
    const truncated = await sh(`echo hi > ${mnt}/w`)
    assert.match(truncated.stderr, /Operation not permitted/)
    assert.ok(ops.truncates > 0)
    const written = await sh(`printf hello | dd of=${mnt}/w conv=notrunc status=none`)
    assert.equal(written.code, 0, written.stderr)
    assert.equal(ops.written, 5)
  })

  it('opens /dev/fuse close-on-exec: children do not inherit the connection', async () => {
    const now = await devFuseDescriptors()
    const ours = now.filter((d) => !before_.some((b) => b.fd === d.fd))
    assert.equal(ours.length, 1, `one new /dev/fuse descriptor: ${JSON.stringify(now)}`)
    assert.equal((ours[0]?.flags ?? 0) & O_CLOEXEC, O_CLOEXEC)
    // Not through sh(), which closes /dev/fuse in its children itself.
    const child = await new Promise<string>((resolve, reject) => {
      execFile('bash', ['-c', 'ls -l /proc/$$/fd/'], (err, stdout) => { if (err === null) resolve(stdout); else reject(err) })
    })
    assert.match(child, /->/)
    assert.doesNotMatch(child, /\/dev\/fuse/)
  })

  it('unmounts, ends the session once nothing is open, and closes /dev/fuse', async () => {
    assert.ok(binding !== undefined)
    assert.equal((await mountAt(mnt))?.fstype, 'fuse.memweave-test')
    await binding.unmount()
    assert.equal(await mountAt(mnt), undefined)
    await binding.sessionEnded()
    assert.deepEqual((await devFuseDescriptors()).map((d) => d.fd).filter((fd) => !before_.some((b) => b.fd === fd)), [])
    await binding.unmount() // twice is harmless
  })
})
