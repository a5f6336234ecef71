/**
 * `memweave mount` run by a user other than root, as such a user meets it:
 * libfuse3 mounts through the setuid fusermount3. The test runs as root and
 * starts the mount as uid 65534 (setpriv) on a fixture in a temporary folder
 * that user can read; it reads a leaf through the mount as that user,
 * unmounts it from outside with `fusermount3 -u`, and checks the mount is
 * gone and the process exits 0 by itself. The refusals name the path and
 * the cause, with a non-zero exit: a directory the user may not write, and
 * (where this machine keeps /dev/fuse to root) the device.
 *
 * fusermount3 opens /dev/fuse as the user. Where /dev/fuse is mode 0600 (some
 * VMs and containers; the kernel's default is 0666), the mount runs in a
 * private mount namespace whose /dev/fuse is a 0666 node of the same device,
 * so the machine's own device is left alone; every command then enters that
 * namespace (nsenter).
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { libfuse3Unavailable } from '../src/frontends/fuse/fuse-binding.js'
import { REPO_ROOT } from './cli-kit.js'
import { fuseUnavailable } from './fuse-kit.js'
import { waitFor } from './wait-for.js'

const USER = 65534
const AS_USER = ['setpriv', `--reuid=${USER}`, `--regid=${USER}`, '--clear-groups', 'env', '-i', 'PATH=/usr/bin:/bin', 'HOME=/tmp']
const MEMWEAVE = [process.execPath, join(REPO_ROOT, 'bin/memweave.js')]

/** Whether uid 65534 passes `test ARGS` (run in this mount namespace). */
function userCan(...args: string[]): boolean {
  return spawnSync(AS_USER[0] ?? 'setpriv', [...AS_USER.slice(1), 'test', ...args]).status === 0
}

function unavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'the test starts the mount as uid 65534, which needs root'
  const fuse = fuseUnavailable() ?? libfuse3Unavailable()
  if (fuse !== undefined) return fuse
  if (!existsSync('/usr/bin/fusermount3')) return 'fusermount3 is not installed (Debian package fuse3)'
  if (spawnSync('setpriv', ['--version']).status !== 0) return 'setpriv (util-linux) is not installed'
  const probe = spawnSync(AS_USER[0] ?? 'setpriv', [...AS_USER.slice(1), ...MEMWEAVE, '--version'], { encoding: 'utf8' })
  if (probe.status !== 0) return `this checkout is not readable by uid ${USER} (${REPO_ROOT}: ${probe.stderr.trim().split('\n')[0] ?? ''})`
  return undefined
}

interface Run { readonly child: ChildProcess; output: string; readonly exited: Promise<[number | null, NodeJS.Signals | null]> }

function start(argv: readonly string[]): Run {
  const child = spawn(argv[0] ?? 'false', argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] })
  const run: Run = { child, output: '', exited: once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]> }
  const add = (chunk: Buffer): void => { run.output += chunk.toString('utf8') }
  child.stdout?.on('data', add)
  child.stderr?.on('data', add)
  return run
}

async function finish(argv: readonly string[]): Promise<{ code: number | null; output: string }> {
  const run = start(argv)
  const [code] = await run.exited
  return { code, output: run.output }
}

describe('a mount by a user other than root', { skip: unavailable() ?? false }, () => {
  let dir = ''
  /** Prefix that runs a command in the mount namespace of the test's mounts. */
  let enter: string[] = []
  let holder: ChildProcess | undefined
  /** Why uid 65534 cannot reach a FUSE device here, if it cannot. */
  let noDevice: string | undefined
  const image = Buffer.alloc(3 << 20)
  for (let i = 0; i < image.length; i++) image[i] = (i * 131 + (i >> 12)) & 0xff

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mw-fuse-user-'))
    await chmod(dir, 0o755) // mkdtemp makes it 0700: the user must reach the fixture
    await writeFile(join(dir, 'image.raw'), image, { mode: 0o644 })
    await mkdir(join(dir, 'mnt'))
    await chown(join(dir, 'mnt'), USER, USER)
    await mkdir(join(dir, 'not-mine'))
    if (userCan('-r', '/dev/fuse', '-a', '-w', '/dev/fuse')) return
    // A private mount namespace whose /dev/fuse is open to everyone; it lives while `cat` waits on its stdin.
    holder = spawn('unshare', ['--mount', '--propagation', 'private', '--', 'bash', '-c',
      `mknod -m 0666 ${dir}/fuse c 10 229 && mount --bind ${dir}/fuse /dev/fuse && echo ready && exec cat`], { stdio: ['pipe', 'pipe', 'inherit'] })
    const made = await new Promise<boolean>((resolve) => {
      holder?.stdout?.on('data', (chunk: Buffer) => { if (chunk.toString().includes('ready')) resolve(true) })
      holder?.once('exit', () => resolve(false))
    })
    if (made) enter = ['nsenter', `--mount=/proc/${holder.pid}/ns/mnt`, '--']
    else noDevice = '/dev/fuse is mode 0600 here and no private mount namespace with an open one could be made (unshare, mknod)'
  })

  after(async () => {
    if (holder !== undefined) {
      holder.stdin?.end()
      if (holder.exitCode === null && holder.signalCode === null) await once(holder, 'exit')
    }
    await rm(dir, { recursive: true, force: true })
  })

  it('mounts through fusermount3, reads as that user, and exits 0 after an outside fusermount3 -u', async (t) => {
    if (noDevice !== undefined) { t.skip(noDevice); return }
    const mnt = join(dir, 'mnt')
    const mount = start([...enter, ...AS_USER, ...MEMWEAVE, '--embedded', '--with', `connector d file:${join(dir, 'image.raw')}`, 'mount', mnt, '--read-only'])
    try {
      await waitFor('the mount is up', () => /mounted on /.test(mount.output) || mount.child.exitCode !== null, { limitMs: 60_000 })
      assert.match(mount.output, /binding=libfuse3/, mount.output)
      const mounts = await finish([...enter, 'grep', ` ${mnt} `, '/proc/self/mountinfo'])
      assert.match(mounts.output, /fuse\.memweave memweave ro,user_id=65534,group_id=65534/, mounts.output)

      const cat = [...enter, ...AS_USER, 'cat', join(mnt, 'connector/d/mem')]
      const read = spawnSync(cat[0] ?? 'false', cat.slice(1), { maxBuffer: 64 << 20 })
      assert.equal(read.status, 0, read.stderr.toString())
      assert.ok(read.stdout.equals(image), 'the leaf reads back the image')

      const unmount = await finish([...enter, ...AS_USER, 'fusermount3', '-u', mnt])
      assert.equal(unmount.code, 0, unmount.output)
      const [code] = await mount.exited
      assert.equal(code, 0, mount.output)
      assert.match(mount.output, /unmounting why="unmounted from outside"/)
      assert.equal((await finish([...enter, 'grep', '-c', ` ${mnt} `, '/proc/self/mountinfo'])).output.trim(), '0')
    } finally {
      mount.child.kill('SIGKILL')
      await finish([...enter, 'umount', '-l', mnt])
    }
  })

  it('refuses a directory the user may not write, naming it, with a non-zero exit', async (t) => {
    if (noDevice !== undefined) { t.skip(noDevice); return }
    const target = join(dir, 'not-mine')
    const run = await finish([...enter, ...AS_USER, ...MEMWEAVE, '--embedded', 'mount', target])
    assert.notEqual(run.code, 0)
    assert.match(run.output, new RegExp(`cannot mount on ${target}: uid 65534 does not own it or may not write to it`))
  })

  it('says when this machine keeps /dev/fuse to root', async (t) => {
    if (holder === undefined) { t.skip('/dev/fuse is open to every user on this machine'); return }
    const run = await finish([...AS_USER, ...MEMWEAVE, '--embedded', 'mount', join(dir, 'mnt')])
    assert.notEqual(run.code, 0)
    assert.match(run.output, new RegExp(`cannot mount on ${join(dir, 'mnt')}: /dev/fuse \\(mode 0600, owner uid 0\\) is not open to uid 65534`))
  })
})
