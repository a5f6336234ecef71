import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { test } from 'node:test'
import { parseProcModules } from './kernel-modules.js'
import { parseProcStat, parseProcStatus, PF_KTHREAD } from './proc-stat.js'

const TAIL = 'S 1 1234 1234 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 3 0 987654 12345678 300 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0'

test('stat parsing finds fields after the LAST parenthesis, so comm may hold spaces and parens', () => {
  for (const comm of ['bash', 'a b', 'x) S 99 (y', ') (', 'kworker/0:1-events', '']) {
    const stat = parseProcStat(`4242 (${comm}) ${TAIL}\n`)
    assert.equal(stat.pid, 4242)
    assert.equal(stat.comm, comm)
    assert.equal(stat.state, 'S')
    assert.equal(stat.ppid, 1)
    assert.equal(stat.numThreads, 3)
    assert.equal(stat.startTime, 987654n)
    assert.equal(stat.flags & PF_KTHREAD, 0)
  }
  assert.throws(() => parseProcStat('4242 bash S 1'), (err: unknown) => err instanceof Error && /comm/.test(err.message))
  assert.throws(() => parseProcStat('4242 (bash) S 1 2'), (err: unknown) => err instanceof Error && /no field/.test(err.message))
})

test('stat and status of this very process parse', async () => {
  const stat = parseProcStat(await readFile('/proc/self/stat', 'utf8'))
  assert.equal(stat.pid, process.pid)
  assert.equal(stat.ppid, process.ppid)
  assert.ok(stat.startTime > 0n)
  assert.ok(stat.numThreads >= 1)
  const status = parseProcStatus(await readFile('/proc/self/status', 'utf8'))
  assert.equal(status.tgid, process.pid)
  assert.equal(status.uid, process.getuid?.())
  const kthreadd = parseProcStat(await readFile('/proc/2/stat', 'utf8'))
  assert.equal(kthreadd.comm, 'kthreadd')
  assert.notEqual(kthreadd.flags & PF_KTHREAD, 0)
})

test('/proc/modules lines parse, hidden addresses are flagged', () => {
  const modules = parseProcModules([
    'ext4 1003520 2 - Live 0xffffffffc0a00000',
    'crc16 12288 1 ext4, Live 0x0000000000000000 (E)',
    '',
  ].join('\n'))
  assert.equal(modules.length, 2)
  assert.equal(modules[0]?.name, 'ext4')
  assert.equal(modules[0]?.base, 0xffffffffc0a00000n)
  assert.equal(modules[0]?.sizeBytes, 1003520n)
  assert.deepEqual(modules[0]?.extra, { refcount: 2, usedBy: [], state: 'Live', taints: null, addressHidden: false })
  assert.deepEqual(modules[1]?.extra, { refcount: 1, usedBy: ['ext4'], state: 'Live', taints: 'E', addressHidden: true })
})
