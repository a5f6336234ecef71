/**
 * The linux OS kind on a running QEMU, through the qemu connector and the
 * tree, as a user would (connector/new "vm qemu:name=…", os/new "g -c vm
 * linux"). One guest boot serves the whole file. Without QMP the kernel's
 * page-table root is found by scanning RAM; with qmp=auto it comes from the
 * vCPUs' CR3 (QMP `info registers`), and both OSs see the same. While the guest runs:
 * the process list matches the guest's own /proc at that moment; a process
 * started from the serial shell is on the very next listing; killed, it is
 * gone from the next one and its handles are stale at once; a test
 * program's patterns read live through processes/by-pid/PID/mem, and bytes
 * the guest changes read back new; a pid taken over by a new process is
 * never confused with the old one (start time).
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { MemweaveError } from '../src/errors/index.js'
import { LocalTreeClient } from '../src/net/local-client.js'
import { BUILTIN_CONNECTOR_KINDS, BUILTIN_MAPPINGS, BUILTIN_OS_KINDS, MemweaveNode } from '../src/node/index.js'
import { GuestShell, liveGuestSkipReason, silentLog, startGuest, stopGuest, until } from './qemu-guest-kit.js'
import type { GuestRun } from './qemu-guest-kit.js'
import { isKind } from './error-kit.js'

/** Where every mw-pattern maps its anonymous page (mw-common.h), the same in every instance. */
const FIXED_MMAP_PATTERN = 0x6d7700000100n
const PATTERN_BYTES = 128
/** /proc/PID/stat counts start time in clock ticks (USER_HZ = 100); the kernel keeps nanoseconds. */
const NS_PER_TICK = 10_000_000n
/** How often a whole-list comparison is tried before its difference counts (kernel threads come and go). */
const LIST_TRIES = 6

interface Proc { readonly pid: number; readonly ppid: number; readonly name: string; readonly startTicks: number }
interface Pattern { readonly addr: bigint; readonly bytes: Buffer }
interface PatternProgram { readonly pid: number; readonly patterns: ReadonlyMap<string, Pattern> }

const procKey = (p: Proc): string => `${p.pid} ${p.ppid} ${p.name} ${p.startTicks}`

/** Every process the guest's /proc shows now, from mw-truth's MW-PROC records (mw-truth leaves itself out). */
async function guestProcesses(shell: GuestShell): Promise<Proc[]> {
  const out = await shell.run("/bin/mw-truth > /tmp/mw-ps; grep '^MW-PROC ' /tmp/mw-ps")
  const procs = out.split('\n').filter((l) => l.startsWith('MW-PROC ')).map((line): Proc => {
    const f = line.split(' ')
    // MW-PROC pid ppid state uid threads flags pgrp session starttime comm-hex …
    return { pid: Number(f[1]), ppid: Number(f[2]), name: Buffer.from(f[10] ?? '', 'hex').toString('utf8'), startTicks: Number(f[9]) }
  })
  assert.ok(procs.length > 20 && procs.some((p) => p.pid === 1), `the guest printed its process list (${procs.length} records)`)
  return procs.sort((a, b) => a.pid - b.pid)
}

describe('linux on a live QEMU guest, through the qemu connector', { skip: liveGuestSkipReason() }, () => {
  let guest: GuestRun
  let node: MemweaveNode
  let client: LocalTreeClient
  let shell: GuestShell

  async function command(path: string, line: string): Promise<unknown> {
    const { handle } = await client.open(path)
    try {
      return await client.rpc(handle, line)
    } finally {
      await client.close(handle)
    }
  }

  async function readAll(handle: number): Promise<string> {
    const [piece] = await client.read(handle, [{ addr: 0n, length: 1 << 20 }])
    assert.ok(piece !== undefined)
    if (!piece.ok) throw piece.error
    return Buffer.from(piece.data).toString('utf8')
  }

  async function readJson(path: string): Promise<Record<string, unknown>> {
    const { handle } = await client.open(path)
    try {
      return JSON.parse(await readAll(handle)) as Record<string, unknown>
    } finally {
      await client.close(handle)
    }
  }

  async function readMem(handle: number, addr: bigint, length: number): Promise<Buffer> {
    const [piece] = await client.read(handle, [{ addr, length }])
    assert.ok(piece !== undefined)
    if (!piece.ok) throw piece.error
    return Buffer.from(piece.data)
  }

  /** pid, ppid, name and start time of every process, as a user gets them: the by-pid listing, then each info leaf. */
  async function treeProcesses(os: string): Promise<Proc[]> {
    const pids = (await client.list(`os/${os}/processes/by-pid`)).map((e) => Number(e.name))
    const out: Proc[] = []
    for (const pid of pids) {
      try {
        const info = await readJson(`os/${os}/processes/by-pid/${pid}/info`)
        const startNs = BigInt(info['startTime'] as string | number)
        out.push({ pid, ppid: info['ppid'] as number, name: info['name'] as string, startTicks: Number(startNs / NS_PER_TICK) })
      } catch (err) {
        // Gone between the listing and its lookup (a short-lived kernel worker): the lists differ and the caller retries.
        if (!(err instanceof MemweaveError && (err.kind === 'not_found' || err.kind === 'stale'))) throw err
        out.push({ pid, ppid: -1, name: `(vanished: ${err.message})`, startTicks: -1 })
      }
    }
    return out
  }

  async function pidsListed(): Promise<Set<number>> {
    return new Set((await client.list('os/g/processes/by-pid')).map((e) => Number(e.name)))
  }

  /** Starts `/bin/mw-pattern TAG` from the shell; returns its pid and patterns once it reports READY. */
  async function startPatternProgram(tag: string): Promise<PatternProgram> {
    await shell.run(`/bin/mw-pattern ${tag} </dev/null >/tmp/${tag}.out 2>&1 &`)
    const out = await until(`mw-pattern ${tag} to report READY`, async () => {
      const text = await shell.run(`cat /tmp/${tag}.out`)
      return text.includes('READY ') ? text : undefined
    })
    const patterns = new Map<string, Pattern>()
    let pid = 0
    for (const [, p, addr, kind, hex] of out.matchAll(/PATTERN (\d+) (0x[0-9a-f]+) \S+ (\w+) ([0-9a-f]+)/g)) {
      pid = Number(p)
      patterns.set(kind!, { addr: BigInt(addr!), bytes: Buffer.from(hex!, 'hex') })
    }
    assert.ok(pid > 0 && patterns.size === 4, `mw-pattern ${tag} printed its four patterns`)
    return { pid, patterns }
  }

  /** Waits until pid has exec'd `name` (a shell child is 'sh' until then). */
  function untilNamed(pid: number, name: string): Promise<Record<string, unknown>> {
    return until(`pid ${pid} to run ${name}`, async () => {
      const info = await readJson(`os/g/processes/by-pid/${pid}/info`).catch((err: unknown) => {
        if (err instanceof MemweaveError && (err.kind === 'not_found' || err.kind === 'stale')) return undefined
        throw err
      })
      return info?.['name'] === name ? info : undefined
    })
  }

  before(async () => {
    guest = await startGuest()
    node = new MemweaveNode({ allowWrite: false, log: silentLog, connectorKinds: BUILTIN_CONNECTOR_KINDS, osKinds: BUILTIN_OS_KINDS, mappings: BUILTIN_MAPPINGS })
    client = new LocalTreeClient(node.tree)
    shell = await GuestShell.connect(guest.consoleSocket)
    assert.match(String(await command('connector/new', `vm qemu:name=${guest.name}`)), /connector 'vm' created \(qemu\)/)
    assert.match(String(await command('os/new', 'g -c vm linux')), /os 'g' created \(linux/)
    assert.match(String(await command('connector/new', `vmq qemu:name=${guest.name},qmp=auto`)), /connector 'vmq' created \(qemu\)/)
    assert.match(String(await command('os/new', 'gq -c vmq linux')), /os 'gq' created \(linux/)
  })

  after(async () => {
    shell?.close()
    await client?.disconnect()
    await node?.close()
    await stopGuest(guest)
  })

  it('opens the kernel from the running guest\'s memory alone, as from a dump', async () => {
    const connector = await readJson('connector/vm/info')
    assert.equal(connector['kind'], 'qemu')
    assert.equal(connector['pid'], guest.pid)
    const info = await readJson('os/g/info')
    const { release, kaslr } = JSON.parse(readFileSync(guest.truth, 'utf8')) as { release: string; kaslr: { text: string } }
    assert.equal(info['kind'], 'linux')
    assert.equal(info['release'], release)
    assert.equal(info['kernelBase'], kaslr.text, 'KASLR base found in live memory')
    assert.equal(info['symbolSource'], 'kallsyms (memory)')
    assert.equal(info['typeSource'], 'BTF (memory)')
    // A live QEMU has no dump notes: the page-table root comes from the scan.
    assert.match(String(info['dtbSource']), /physical memory scan/)
    assert.deepEqual(info['warnings'], [])
  })

  it('with qmp=auto takes the page-table root from CR3 (QMP info registers) and finds the same kernel', async () => {
    assert.equal((await readJson('connector/vmq/info'))['method'], 'qmp')
    const scanned = await readJson('os/g/info')
    const info = await readJson('os/gq/info')
    assert.match(String(info['dtbSource']), /CR3 of CPU 0 \(QMP info registers\)/)
    // Both end on the kernel's own root (init_top_pgt), whatever CR3 the vCPU held.
    for (const key of ['release', 'kernelBase', 'kaslrOffset', 'directMapBase', 'pagingLevels', 'dtb', 'symbolSource', 'typeSource']) {
      assert.ok(scanned[key] !== undefined, key)
      assert.deepEqual(info[key], scanned[key], key)
    }
    assert.deepEqual(info['warnings'], [])
  })

  for (const os of ['g', 'gq']) it(`lists the processes the guest's own /proc shows at that moment (pid, ppid, name, start time), os ${os}`, async () => {
    let last: { guest: Proc[]; ours: Proc[] } | undefined
    for (let attempt = 0; attempt < LIST_TRIES; attempt++) {
      const before = await guestProcesses(shell)
      const ours = await treeProcesses(os)
      const afterwards = await guestProcesses(shell)
      last = { guest: afterwards, ours }
      // Only a guest that stood still across our listing is a fair reference.
      if (before.map(procKey).join('\n') !== afterwards.map(procKey).join('\n')) continue
      if (ours.map(procKey).join('\n') === before.map(procKey).join('\n')) break
      last = { guest: before, ours }
    }
    assert.ok(last !== undefined)
    assert.deepEqual(last.ours.map(procKey), last.guest.map(procKey))
    // The guest's shell and the fixture programs are among them, with their real parents.
    const byPid = new Map(last.ours.map((p) => [p.pid, p]))
    assert.equal(byPid.get(1)?.name, 'init')
    assert.ok(last.ours.some((p) => p.name === 'mw-pattern2' && p.ppid === 1))
    assert.ok(last.ours.some((p) => p.name === 'sleep' && byPid.get(p.ppid)?.name === 'sh'))
  })

  it('shows a process started in the guest on the next listing, and once killed drops it and makes its handles stale', async () => {
    const pid = Number(/PID=(\d+)/.exec(await shell.run('sleep 3131 & echo PID=$!'))?.[1])
    assert.ok(pid > 1)
    // The fork happened before the shell printed the pid: no waiting, the next listing has it.
    assert.ok((await pidsListed()).has(pid), `pid ${pid} is on the first listing after it started`)
    const info = await untilNamed(pid, 'sleep')
    assert.deepEqual(info['cmdline'], ['sleep', '3131'])
    assert.equal(info['state'], 'S')
    const mem = await client.open(`os/g/processes/by-pid/${pid}/mem`)
    const infoHandle = await client.open(`os/g/processes/by-pid/${pid}/info`)
    const maps = await client.open(`os/g/processes/by-pid/${pid}/maps`)
    try {
      const firstMap = /^([0-9a-f]+)-/.exec(await readAll(maps.handle))
      assert.ok(firstMap !== null, 'maps has lines')
      // The first mapping is busybox's ELF header.
      assert.deepEqual(await readMem(mem.handle, BigInt(`0x${firstMap[1]!}`), 4), Buffer.from('\x7fELF', 'latin1'))
      assert.match(await readAll(infoHandle.handle), /"sleep"/)

      await shell.run(`kill ${pid}; wait ${pid}`)
      // Reaped by the shell before it answered: gone from the very next listing, and every handle is stale now.
      assert.ok(!(await pidsListed()).has(pid), `pid ${pid} is off the first listing after it was reaped`)
      const stale = new RegExp(`stale handle.*process ${pid} \\(sleep\\) has exited`)
      await assert.rejects(readMem(mem.handle, BigInt(`0x${firstMap[1]!}`), 4), isKind('stale', stale))
      await assert.rejects(client.read(infoHandle.handle, [{ addr: 0n, length: 16 }]), isKind('stale', stale))
      await assert.rejects(client.read(maps.handle, [{ addr: 0n, length: 16 }]), isKind('stale', stale))
      await assert.rejects(client.open(`os/g/processes/by-pid/${pid}/mem`), isKind('not_found', new RegExp(String(pid))))
    } finally {
      for (const h of [mem, infoHandle, maps]) await client.close(h.handle)
    }
  })

  it('reads a test program\'s patterns live through its mem, and the bytes the guest changes', async () => {
    const tag = `lq${process.pid}`
    const program = await startPatternProgram(tag)
    await untilNamed(program.pid, 'mw-pattern')
    const mem = await client.open(`os/g/processes/by-pid/${program.pid}/mem`)
    try {
      for (const [kind, pattern] of program.patterns) {
        assert.deepEqual(await readMem(mem.handle, pattern.addr, PATTERN_BYTES), pattern.bytes, `${kind} pattern of ${tag}`)
      }
      assert.equal(program.patterns.get('mmap')?.addr, FIXED_MMAP_PATTERN)
      // The guest rewrites the start of two patterns (as root, through its own /proc/PID/mem).
      for (const kind of ['data', 'mmap']) {
        const { addr, bytes } = program.patterns.get(kind)!
        const marker = `CHANGED-IN-GUEST-${kind}`
        await shell.run(`printf '${marker}' | dd of=/proc/${program.pid}/mem bs=1 seek=$((0x${addr.toString(16)})) conv=notrunc 2>/dev/null`)
        const expected = Buffer.concat([Buffer.from(marker), bytes.subarray(marker.length)])
        // No waiting: the write finished before the shell answered, and nothing between us and guest RAM caches data.
        assert.deepEqual(await readMem(mem.handle, addr, PATTERN_BYTES), expected, `${kind} pattern after the guest changed it`)
      }
      // Heap and stack are untouched.
      for (const kind of ['heap', 'stack']) {
        const { addr, bytes } = program.patterns.get(kind)!
        assert.deepEqual(await readMem(mem.handle, addr, PATTERN_BYTES), bytes)
      }

      // A new instance maps its pattern at the same virtual address in a new address space (its page tables may reuse
      // the old one's pages): its mem reads the new bytes, while the old handle is stale rather than reading them.
      await shell.run(`kill ${program.pid}; wait ${program.pid}`)
      const next = await startPatternProgram(`${tag}n`)
      await untilNamed(next.pid, 'mw-pattern')
      await assert.rejects(readMem(mem.handle, FIXED_MMAP_PATTERN, PATTERN_BYTES), isKind('stale', /has exited/))
      const nextMem = await client.open(`os/g/processes/by-pid/${next.pid}/mem`)
      try {
        assert.notEqual(nextMem.handle, mem.handle)
        assert.deepEqual(await readMem(nextMem.handle, FIXED_MMAP_PATTERN, PATTERN_BYTES), next.patterns.get('mmap')!.bytes)
        assert.deepEqual(await readMem(nextMem.handle, next.patterns.get('data')!.addr, PATTERN_BYTES), next.patterns.get('data')!.bytes)
      } finally {
        await client.close(nextMem.handle)
        await shell.run(`kill ${next.pid}; wait ${next.pid}`)
      }
    } finally {
      await client.close(mem.handle)
    }
  })

  it('never confuses a process with a newer one that took its pid', async () => {
    // ns_last_pid makes the next fork take the pid just freed; a kernel thread may take it first, so try a few times.
    for (let attempt = 0; attempt < 5; attempt++) {
      const oldPid = Number(/PID=(\d+)/.exec(await shell.run('sleep 4141 & echo PID=$!'))?.[1])
      const oldInfo = await untilNamed(oldPid, 'sleep')
      const oldMem = await client.open(`os/g/processes/by-pid/${oldPid}/mem`)
      const oldInfoHandle = await client.open(`os/g/processes/by-pid/${oldPid}/info`)
      try {
        assert.match(await readAll(oldInfoHandle.handle), /"4141"/)
        const out = await shell.run(`kill ${oldPid}; wait ${oldPid}; echo $((${oldPid} - 1)) > /proc/sys/kernel/ns_last_pid; sleep 4242 & echo PID=$!`)
        const newPid = Number(/PID=(\d+)/.exec(out)?.[1])
        if (newPid !== oldPid) {
          await shell.run(`kill ${newPid}; wait ${newPid}`)
          continue
        }
        const newInfo = await untilNamed(newPid, 'sleep')
        try {
          assert.deepEqual(newInfo['cmdline'], ['sleep', '4242'])
          assert.notEqual(newInfo['startTime'], oldInfo['startTime'])
          // The old handles do not read the new process: they are stale.
          await assert.rejects(client.read(oldInfoHandle.handle, [{ addr: 0n, length: 16 }]), isKind('stale', new RegExp(`process ${oldPid} \\(sleep\\) has exited`)))
          await assert.rejects(readMem(oldMem.handle, 0x400000n, 4), isKind('stale', /has exited/))
          // The same path now opens the new process, under a new handle.
          const again = await client.open(`os/g/processes/by-pid/${newPid}/info`)
          try {
            assert.notEqual(again.handle, oldInfoHandle.handle)
            assert.match(await readAll(again.handle), /"4242"/)
          } finally {
            await client.close(again.handle)
          }
          return
        } finally {
          await shell.run(`kill ${newPid}; wait ${newPid}`)
        }
      } finally {
        await client.close(oldMem.handle)
        await client.close(oldInfoHandle.handle)
      }
    }
    assert.fail('the guest never gave a freed pid to the next process (ns_last_pid)')
  })
})
