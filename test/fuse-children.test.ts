/**
 * `serve --fuse` holds /dev/fuse, opened by libfuse 2 without O_CLOEXEC, so
 * any child it spawns after mounting would hold the FUSE connection too (and
 * could answer the mount's requests, or keep it alive after the daemon).
 * A real daemon mounts, loads a plugin (which starts the esbuild bundler
 * service and a sandboxed plugin host), and then every process below it has
 * its /proc/PID/fd listed: none may point at /dev/fuse, while the daemon's own does.
 */
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile, chmod } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runCli, startDaemon } from './cli-kit.js'
import type { RunningDaemon } from './cli-kit.js'
import { fuseUnavailable } from './fuse-kit.js'
import { SANDBOX_SKIP } from './plugin-kit.js'

const TINY = "export const plugin = { name: 'tiny', version: '0.1.0', attachesTo: 'os', leaves: { 'tiny.txt': { read: (ctx) => `os ${ctx.object.name}\\n` } } }\n"

/** Every process below pid (children of all its threads, recursively). */
async function descendants(pid: number): Promise<number[]> {
  const out: number[] = []
  const tasks = await readdir(`/proc/${pid}/task`).catch(() => [])
  for (const task of tasks) {
    const children = (await readFile(`/proc/${pid}/task/${task}/children`, 'utf8').catch(() => '')).split(' ').filter((c) => c !== '').map(Number)
    for (const child of children) out.push(child, ...await descendants(child))
  }
  return out
}

/** Where each of a process's descriptors points. */
async function fdTargets(pid: number): Promise<string[]> {
  const fds = await readdir(`/proc/${pid}/fd`).catch(() => [])
  return Promise.all(fds.map((fd) => readlink(`/proc/${pid}/fd/${fd}`).catch(() => 'gone')))
}

async function commandLine(pid: number): Promise<string> {
  return (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0').join(' ').trim()
}

describe('children of serve --fuse', { skip: fuseUnavailable() ?? SANDBOX_SKIP }, () => {
  let dir = ''
  let daemon: RunningDaemon | undefined

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mw-fuse-children-'))
    await chmod(dir, 0o755)
    await mkdir(join(dir, 'mnt'))
    await mkdir(join(dir, 'plugins'))
    await writeFile(join(dir, 'plugins', 'tiny.mjs'), TINY)
  })

  after(async () => {
    if (daemon !== undefined) await daemon.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('hold no /dev/fuse: neither the bundler service nor the plugin host', async () => {
    const env = { MEMWEAVE_STATE_DIR: join(dir, 'state') }
    const socket = join(dir, 'd.sock')
    daemon = await startDaemon(['--listen', `unix:${socket}`, '--fuse', join(dir, 'mnt'), '--fuse-read-only', '--plugin-root', join(dir, 'plugins'),
      '--with', 'os host native', '--log-level', 'warn'], { env })
    const pid = daemon.child.pid
    assert.ok(pid !== undefined)
    assert.ok((await fdTargets(pid)).includes('/dev/fuse'), 'the daemon itself holds the FUSE connection')

    const loaded = await runCli(['--daemon', `unix:${socket}`, 'plugin', 'load', join(dir, 'plugins', 'tiny.mjs')], { env })
    assert.equal(loaded.code, 0, loaded.stderr)
    const children = await descendants(pid)
    const lines = await Promise.all(children.map(async (child) => ({ child, command: await commandLine(child), fds: await fdTargets(child) })))
    assert.ok(lines.some((l) => /--service=/.test(l.command)), `the esbuild service is a child: ${JSON.stringify(lines.map((l) => l.command))}`)
    assert.ok(lines.some((l) => /--experimental-permission/.test(l.command)), 'the sandboxed plugin host is a descendant')
    for (const line of lines) {
      assert.ok(!line.fds.includes('/dev/fuse'), `${line.child} (${line.command}) holds /dev/fuse: ${line.fds.join(' ')}`)
    }
  })
})
