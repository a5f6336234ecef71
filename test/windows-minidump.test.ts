/**
 * processes/…/PID/minidump on a built Windows image: the file is read
 * through the CLI (`cat`), written out, and parsed back
 * by an independent reader (test/minidump_reader.py, Python standard library
 * only) that must find the system info, the modules the image placed and
 * the heap pattern at its virtual address; a paged-out page reads as zeros.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { after, before, describe, it } from 'node:test'
import { processMinidumpLeaf } from '../src/os/windows/index.js'
import { buildWindowsImage } from '../src/os/windows/windows-image-kit.js'
import { containerBytes } from '../src/os/windows/windows-test-kit.js'
import { REPO_ROOT, runCli } from './cli-kit.js'

const run = promisify(execFile)
let dir = ''
before(async () => { dir = await mkdtemp(join(tmpdir(), 'mw-minidump-')) })
after(async () => { await rm(dir, { recursive: true, force: true }) })

interface Parsed {
  readonly streams: number[]
  readonly system: { arch: number; build: number; platform: number }
  readonly modules: { base: number; size: number; name: string }[]
  readonly memory: { start: number; size: number }[]
  readonly memoryEnd: number
  readonly fileSize: number
  readonly reads: (string | null)[]
}

describe('minidump leaf', () => {
  it('is parsed back by an independent reader and holds the pattern', async () => {
    const image = buildWindowsImage({ kdbg: true, seed: 9 })
    const dumpPath = join(dir, 'image.dmp')
    await writeFile(dumpPath, containerBytes(image, 'pagedu64-full'))
    const truth = image.processes.find((p) => p.name === 'notepad.exe')!
    const setup = ['--embedded', '--with', `connector win file:${dumpPath}`, '--with', 'os w -c win windows']
    const cat = await runCli([...setup, 'cat', `os/w/processes/by-pid/${truth.pid}/minidump`])
    assert.equal(cat.code, 0, cat.stderr)
    const path = join(dir, 'notepad.dmp')
    await writeFile(path, cat.stdoutBytes)
    const args = [join(REPO_ROOT, 'test', 'minidump_reader.py'), path,
      truth.pattern!.addr.toString(16), String(truth.pattern!.bytes.length), truth.pagedOut!.toString(16), '16']
    const parsed = JSON.parse((await run('python3', args)).stdout) as Parsed
    assert.deepEqual(parsed.streams, [4, 7, 9])
    assert.deepEqual([parsed.system.arch, parsed.system.build, parsed.system.platform], [9, 19041, 2])
    assert.deepEqual(parsed.modules.map((m) => [m.name, BigInt(m.base), BigInt(m.size)]), truth.modules.map((m) => [m.path, m.base, m.sizeBytes]))
    assert.deepEqual(parsed.memory.map((m) => [BigInt(m.start), BigInt(m.start + m.size)]), truth.vads.map((v) => [v.start, v.end]))
    assert.equal(parsed.memoryEnd, parsed.fileSize, 'the memory ranges end the file')
    assert.equal(parsed.reads[0], Buffer.from(truth.pattern!.bytes).toString('hex'), 'the pattern at its virtual address')
    assert.equal(parsed.reads[1], '00'.repeat(16), 'a paged-out page is written as zeros')
  })

  it('appears on Windows processes only', async () => {
    const image = buildWindowsImage({ seed: 2 })
    const dumpPath = join(dir, 'ls.dmp')
    await writeFile(dumpPath, containerBytes(image, 'pagedu64-full'))
    const ls = await runCli(['--embedded', '--with', `connector win file:${dumpPath}`, '--with', 'os w -c win windows', 'ls', 'os/w/processes/by-pid/1234'])
    assert.equal(ls.code, 0, ls.stderr)
    assert.match(ls.stdout, /minidump/)
    const host = await runCli(['--embedded', '--with', 'os host native', 'ls', `os/host/processes/by-pid/${process.pid}`])
    assert.equal(host.code, 0, host.stderr)
    assert.doesNotMatch(host.stdout, /minidump/, 'a host process has no minidump leaf')
    assert.equal(processMinidumpLeaf.name, 'minidump')
  })
})
