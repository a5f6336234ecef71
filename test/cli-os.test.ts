/**
 * The OS shortcuts (ps, maps, modules, dump) and `os new|ls|rm` as a user
 * runs them, on the host itself through the `native` OS kind: a `sleep`
 * child of this test is the process whose facts are known.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { constants } from 'node:fs'
import { access, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { CLI_MAIN, lines, REPO_ROOT, runCli, startDaemon } from './cli-kit.js'

const HOST = ['--embedded', '--with', 'os host native']

async function which(program: string): Promise<string | undefined> {
  for (const folder of (process.env.PATH ?? '').split(':')) {
    const candidate = join(folder, program)
    if (await access(candidate, constants.X_OK).then(() => true, () => false)) return candidate
  }
  return undefined
}

let dir = ''
let sleeper: ChildProcess
let pid = 0
let skipReason: string | false = false

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'memweave-cli-os-'))
  const info = await runCli(['--embedded', 'sys', 'info', '--json'])
  const kinds = (JSON.parse(info.stdout) as { osKinds: string[] }).osKinds
  if (!kinds.includes('native')) skipReason = `the 'native' OS kind is not registered (known: ${kinds.join(', ') || 'none'})`
  sleeper = spawn('sleep', ['300'], { stdio: 'ignore' })
  // 'spawn' comes after the exec succeeded (libuv waits for it), so name and maps are sleep's from here on.
  await once(sleeper, 'spawn')
  pid = sleeper.pid ?? 0
})
after(async () => {
  sleeper.kill()
  await rm(dir, { recursive: true, force: true })
})

describe('OS shortcuts on the host (native)', { concurrency: 3 }, () => {
  test('ps --json lists the sleep child with its parent and command line', async (t) => {
    if (skipReason !== false) { t.skip(skipReason); return }
    const result = await runCli([...HOST, 'ps', 'host', '--json'])
    assert.equal(result.code, 0, result.stderr)
    const processes = JSON.parse(result.stdout) as { pid: number; ppid: number; name: string; cmdline: string[] }[]
    const child = processes.find((p) => p.pid === pid)
    assert.ok(child, `pid ${pid} listed`)
    assert.equal(child.ppid, process.pid)
    assert.equal(child.name, 'sleep')
    assert.deepEqual(child.cmdline, ['sleep', '300'])
    assert.deepEqual(processes.map((p) => p.pid), processes.map((p) => p.pid).sort((a, b) => a - b), 'sorted by pid')
  })

  test('ps draws a table, and --tree puts the child under this test', async (t) => {
    if (skipReason !== false) { t.skip(skipReason); return }
    const table = await runCli([...HOST, 'ps', 'host'])
    assert.equal(table.code, 0, table.stderr)
    assert.match(lines(table.stdout)[0] ?? '', /^PID\s+PPID\s+NAME\s+STATE\s+UID\s+THR\s+CMDLINE$/)
    assert.ok(lines(table.stdout).some((l) => new RegExp(`^${pid}\\s+${process.pid}\\s+sleep\\s+S\\s+\\d+\\s+1\\s+sleep 300$`).test(l)), table.stdout)
    const tree = lines((await runCli([...HOST, 'ps', 'host', '--tree'])).stdout)
    const parentRow = tree.findIndex((l) => l.startsWith(`${process.pid} `))
    const childRow = tree.findIndex((l) => l.startsWith(`${pid} `))
    assert.ok(parentRow > 0 && childRow > parentRow, 'child listed after its parent')
    const indent = (row: string | undefined): number => (/\\_ /.exec(row ?? '')?.index ?? 0)
    assert.ok(indent(tree[childRow]) > indent(tree[parentRow]), 'child indented deeper than its parent')
  })

  test('maps is /proc/PID/maps; --json parses it', async (t) => {
    if (skipReason !== false) { t.skip(skipReason); return }
    const result = await runCli([...HOST, 'maps', 'host', String(pid)])
    assert.equal(result.code, 0, result.stderr)
    assert.equal(result.stdout, await readFile(`/proc/${pid}/maps`, 'utf8'))
    const json = JSON.parse((await runCli([...HOST, 'maps', 'host', String(pid), '--json'])).stdout) as { start: string; perms: string; path: string }[]
    assert.ok(json.some((m) => m.path.endsWith('/sleep') && m.perms.includes('x')), 'the executable mapping is there')
    assert.match(json[0]?.start ?? '', /^0x[0-9a-f]+$/)
  })

  test('modules of a process lists the executable and libc', async (t) => {
    if (skipReason !== false) { t.skip(skipReason); return }
    const result = await runCli([...HOST, 'modules', 'host', String(pid), '--json'])
    assert.equal(result.code, 0, result.stderr)
    const modules = JSON.parse(result.stdout) as { name: string; path?: string }[]
    assert.ok(modules.some((m) => m.name === 'sleep'), result.stdout)
    assert.ok(modules.some((m) => m.name.startsWith('libc.so')), result.stdout)
    const table = await runCli([...HOST, 'modules', 'host', String(pid)])
    assert.match(lines(table.stdout)[0] ?? '', /^NAME\s+BASE\s+SIZE\s+PATH$/)
  })

  test('dump writes an ELF core file, silently when stderr is not a terminal', async (t) => {
    if (skipReason !== false) { t.skip(skipReason); return }
    const file = join(dir, 'sleep.core')
    const result = await runCli([...HOST, 'dump', 'host', String(pid), '-o', file])
    assert.equal(result.code, 0, result.stderr)
    assert.equal(result.stderr, '', 'no progress bar without a terminal')
    const core = await readFile(file)
    assert.match(result.stdout, new RegExp(`^wrote .* \\(${core.length} bytes\\) to `))
    assert.deepEqual([...core.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46])
    assert.equal(core.readUInt16LE(16), 4, 'e_type ET_CORE')
  })

  test('dump shows a progress bar on a terminal', async (t) => {
    if (skipReason !== false) { t.skip(skipReason); return }
    const scriptPath = await which('script')
    if (scriptPath === undefined) { t.skip("util-linux 'script' (to give the CLI a terminal) is not installed"); return }
    const file = join(dir, 'tty.core')
    const command = [process.execPath, '--import', 'tsx', CLI_MAIN, ...HOST.map((a) => `'${a}'`), 'dump', 'host', String(pid), '-o', file].join(' ')
    // script(1) runs the command on a pseudo-terminal; -e passes its exit code through.
    const child = spawn(scriptPath, ['-qec', command, '/dev/null'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout?.on('data', (chunk: Buffer) => { output += chunk.toString('utf8') })
    const [code] = (await once(child, 'close')) as [number | null]
    assert.equal(code, 0, output)
    assert.match(output, /100% \| [\d.]+ MiB of [\d.]+ MiB/)
    assert.match(output, /wrote .* to .*tty\.core/)
  })

  test('dump of a process that does not exist fails in one line and leaves no file', async (t) => {
    if (skipReason !== false) { t.skip(skipReason); return }
    const file = join(dir, 'none.core')
    const result = await runCli([...HOST, 'dump', 'host', '2147483646', '-o', file])
    assert.equal(result.code, 1)
    assert.equal(lines(result.stderr).length, 1, result.stderr)
    assert.match(result.stderr, /^memweave: .*2147483646/)
    assert.equal(await access(file).then(() => true, () => false), false)
  })

  test('bad pids are usage errors', async () => {
    const result = await runCli([...HOST, 'maps', 'host', 'init'])
    assert.equal(result.code, 2)
    assert.match(result.stderr, /^memweave: 'init' is not a process id\n$/)
  })
})

describe('os new, ls and rm through a daemon', () => {
  test('create, list, refuse a duplicate, remove', async (t) => {
    if (skipReason !== false) { t.skip(skipReason); return }
    const socket = join(dir, 'os.sock')
    const daemon = await startDaemon(['--listen', `unix:${socket}`, '--log-level', 'warn'])
    const cli = (...args: string[]): ReturnType<typeof runCli> => runCli(['--daemon', `unix:${socket}`, ...args])
    try {
      const created = await cli('os', 'new', 'host', 'native')
      assert.equal(created.code, 0, created.stderr)
      assert.match(created.stdout, /^os 'host' created \(native, \d+ ms\)\n$/)
      const listed = await cli('os', 'ls')
      assert.match(lines(listed.stdout)[1] ?? '', /^host\s+native\s+/)
      const json = JSON.parse((await cli('os', 'ls', '--json')).stdout) as { name: string; info: { kind: string } }[]
      assert.deepEqual(json.map((o) => [o.name, o.info.kind]), [['host', 'native']])
      const duplicate = await cli('os', 'new', 'host', 'native')
      assert.equal(duplicate.code, 1)
      assert.match(duplicate.stderr, /^memweave: an OS named 'host' already exists\n$/)
      const ps = await cli('ps', 'host', '--json')
      assert.ok((JSON.parse(ps.stdout) as { pid: number }[]).some((p) => p.pid === pid))
      const removed = await cli('os', 'rm', 'host')
      assert.equal(removed.stdout, "os 'host' removed\n")
      assert.deepEqual(JSON.parse((await cli('os', 'ls', '--json')).stdout), [])
    } finally {
      assert.equal((await daemon.stop()).code, 0, daemon.stderr())
    }
  })
})
