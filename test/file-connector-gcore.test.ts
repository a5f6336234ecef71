/**
 * Real-world ELF core: gcore (from gdb) dumps a running `sleep`, the file
 * connector opens the core, and bytes of read-only mappings match what
 * /proc/PID/mem of the still-running process holds. Process cores carry
 * addresses in p_vaddr, so the connector exposes the process's virtual layout.
 */
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { open, readFile } from 'node:fs/promises'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { openPath, readBytes, tempDir } from '../src/connectors/file/file-test-kit.js'
import type { TempDir } from '../src/connectors/file/file-test-kit.js'

const run = promisify(execFile)

async function hasGcore(): Promise<boolean> {
  try {
    await run('gdb', ['--version']) // gcore is a script shipped with gdb
    return true
  } catch {
    return false // probed on purpose: without gdb the test is skipped with a reason
  }
}

interface Mapping { start: number; end: number; perms: string; path: string }

function parseMaps(text: string): Mapping[] {
  return text.trim().split('\n').map((line) => {
    const [range = '', perms = '', , , , ...rest] = line.split(/\s+/)
    const [start = '0', end = '0'] = range.split('-')
    return { start: parseInt(start, 16), end: parseInt(end, 16), perms, path: rest.join(' ') }
  })
}

describe('file connector on a gcore process core', { skip: (await hasGcore()) ? false : 'gcore (gdb) is not installed: apt-get install -y gdb' }, () => {
  let dir: TempDir
  let child: ReturnType<typeof spawn>
  before(async () => {
    dir = await tempDir('mw-gcore-')
    child = spawn('sleep', ['60'], { stdio: 'ignore' })
    await new Promise<void>((resolve, reject) => { child.once('spawn', resolve); child.once('error', reject) })
  })
  after(async () => {
    child.kill('SIGKILL')
    await dir.remove()
  })

  it('reads the same bytes as /proc/PID/mem for read-only mappings', async () => {
    const pid = child.pid
    assert.ok(pid !== undefined)
    await run('gcore', ['-o', dir.file('core'), String(pid)], { timeout: 60_000 })
    const connector = await openPath(dir.file(`core.${pid}`), 'format=elf')
    const procMem = await open(`/proc/${pid}/mem`, 'r')
    try {
      const info = await connector.info()
      assert.equal(info['format'], 'elf')
      assert.equal(info['addressing'], 'virtual')
      assert.ok(connector.hints.elfNotes?.some((n) => n.name === 'CORE' && n.type === 1), 'has NT_PRSTATUS')
      const maps = parseMaps(await readFile(`/proc/${pid}/maps`, 'utf8'))
      const stable = maps.filter((m) => !m.perms.includes('w') && m.perms.startsWith('r') && m.path.startsWith('/'))
      let compared = 0
      for (const m of stable) {
        const length = Math.min(4096, m.end - m.start)
        const fromCore = await readBytes(connector, BigInt(m.start), length)
        if (fromCore.every((b) => b === 0)) continue // gcore may leave file-backed pages out (coredump_filter)
        const live = new Uint8Array(length)
        const { bytesRead } = await procMem.read(live, 0, length, m.start)
        assert.equal(bytesRead, length)
        assert.deepEqual(fromCore, live, `mapping ${m.path} at 0x${m.start.toString(16)}`)
        compared++
      }
      assert.ok(compared >= 2, `compared ${compared} read-only mappings`)
      const exe = stable.find((m) => m.path.endsWith('/sleep'))
      assert.ok(exe !== undefined)
      assert.deepEqual(await readBytes(connector, BigInt(exe.start), 4), Uint8Array.of(0x7f, 0x45, 0x4c, 0x46), 'the executable starts with its ELF header')
    } finally {
      await procMem.close()
      await connector.close()
    }
  })
})
