/**
 * The kcore connector against real kernels' /proc/kcore.
 *
 * Host: a child process fills pages with a known pattern; /proc/CHILD/pagemap
 * (root) gives their frame numbers; kcore must show the pattern at
 * PFN * 4096. Skipped where the host kernel has no /proc/kcore.
 *
 * Guest: the fixture guest's own /proc/kcore header (read over its serial
 * shell) must give the direct map its truth.json lists; a pattern page
 * fetched from the guest's kcore at the offset our layout computes, put
 * with that header into a sparse file, must read back through `kcore:FILE`
 * at the pattern's physical address (found in guest RAM via the qemu
 * connector).
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { createInterface } from 'node:readline'
import type { Connector } from '../src/connectors/index.js'
import { kcoreConnectorKind, parseKcore } from '../src/connectors/kcore/index.js'
import { qemuConnectorKind } from '../src/connectors/qemu/index.js'
import { RangeMap, physAddr, readExact } from '../src/mem/index.js'
import { GuestShell, createConnector, liveGuestSkipReason, parseOd, scanFor, startGuest, stopGuest, truthPatterns } from './qemu-guest-kit.js'
import type { GuestRun } from './qemu-guest-kit.js'

const PAGE = 4096
const PAGES = 4

function hostSkipReason(): string | false {
  if (!existsSync('/proc/kcore')) return 'this host kernel has no /proc/kcore (built without CONFIG_PROC_KCORE)'
  if (process.getuid?.() !== 0) return 'needs root: /proc/kcore and page frame numbers in /proc/PID/pagemap'
  return false
}

/** The bytes the helper process writes into page i. */
function pagePattern(i: number): Buffer {
  const page = Buffer.alloc(PAGE)
  const text = Buffer.from(`MEMWEAVE-KCORE-TEST-${process.pid}-page-${i}:`)
  for (let at = 0; at < PAGE; at += text.length) text.copy(page, at)
  return page
}

// Fills PAGES pages of an anonymous mapping, prints their address, then waits for stdin to close.
const HELPER = `
import ctypes, mmap, sys
m = mmap.mmap(-1, ${PAGES * PAGE})
for i in range(${PAGES}):
    text = ("MEMWEAVE-KCORE-TEST-%s-page-%d:" % (sys.argv[1], i)).encode()
    m[i * ${PAGE}:(i + 1) * ${PAGE}] = (text * (${PAGE} // len(text) + 1))[:${PAGE}]
print(hex(ctypes.addressof(ctypes.c_char.from_buffer(m))), flush=True)
sys.stdin.read()
`

describe('host /proc/kcore', { skip: hostSkipReason() }, () => {
  it('shows a process\'s pages at the frames its pagemap names', async () => {
    const child = spawn('python3', ['-c', HELPER, String(process.pid)], { stdio: ['pipe', 'pipe', 'inherit'] })
    const lines = createInterface({ input: child.stdout })
    const line = await new Promise<string>((ok, fail) => {
      lines.once('line', ok)
      child.once('exit', (code) => fail(new Error(`the helper exited (${String(code)}) before printing its address`)))
    })
    const base = BigInt(line)
    const host = await createConnector(kcoreConnectorKind, '')
    const pagemap = openSync(`/proc/${child.pid!}/pagemap`, 'r')
    try {
      for (let i = 0; i < PAGES; i++) {
        const entry = Buffer.alloc(8)
        readSync(pagemap, entry, 0, 8, Number((base / BigInt(PAGE) + BigInt(i)) * 8n))
        const value = entry.readBigUInt64LE(0)
        assert.ok((value >> 63n) === 1n, `page ${i} is present`)
        const pfn = value & ((1n << 55n) - 1n)
        assert.ok(pfn > 0n, 'pagemap gives frame numbers to root')
        assert.deepEqual(Buffer.from(await readExact(host.mem, physAddr(pfn * BigInt(PAGE)), PAGE)), pagePattern(i))
      }
    } finally {
      closeSync(pagemap)
      await host.close()
      child.stdin.end()
    }
  })
})

interface TruthKcore {
  readonly kcoreSegments: readonly { vaddr: string; paddr: string; size: number }[]
  readonly kernelVars: Readonly<Record<string, { value: string }>>
  readonly release: string
}

describe('a guest kernel\'s /proc/kcore', { skip: liveGuestSkipReason() }, () => {
  let guest: GuestRun
  let shell: GuestShell
  let ram: Connector
  let dir: string

  before(async () => {
    guest = await startGuest()
    shell = await GuestShell.connect(guest.consoleSocket)
    ram = await createConnector(qemuConnectorKind, `pid=${guest.pid}`)
    dir = mkdtempSync(join(tmpdir(), 'mw-kcore-guest-'))
  })

  after(async () => {
    shell?.close()
    await ram?.close()
    await stopGuest(guest)
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  it('maps a pattern\'s physical address to the kcore offset where the guest kernel serves it', async () => {
    const truth = JSON.parse(readFileSync(guest.truth, 'utf8')) as TruthKcore
    const header = parseOd(await shell.run('dd if=/proc/kcore bs=4096 count=8 2>/dev/null | od -An -tx1 -v'))
    assert.equal(header.length, 8 * PAGE)
    const layout = await parseKcore({ name: 'guest /proc/kcore', read: async (offset, length) => header.subarray(offset, offset + length) })

    // The direct map is what truth lists with a physical address, minus the kernel text alias.
    assert.equal(layout.directMapBase, BigInt(truth.kernelVars['page_offset_base']!.value))
    const expected = truth.kcoreSegments
      .filter((s) => s.paddr !== '0xffffffffffffffff' && BigInt(s.vaddr) - BigInt(s.paddr) === layout.directMapBase)
      .map((s) => [BigInt(s.paddr), BigInt(s.size)])
      .sort((a, b) => (a[0]! < b[0]! ? -1 : 1))
    assert.deepEqual(layout.ranges.map((r) => [r.start, r.length]), expected)
    assert.ok(truth.kcoreSegments.some((s) => BigInt(s.vaddr) >= 0xffffffff80000000n && s.paddr !== '0xffffffffffffffff'), 'the text alias exists and was left out')

    const pattern = truthPatterns(guest).find((p) => p.tag === 'beta' && p.kind === 'heap')
    assert.ok(pattern !== undefined)
    const bytes = Buffer.from(pattern.bytes, 'hex')
    const [phys] = await scanFor(ram.mem, bytes, BigInt(guest.ramBytes))
    assert.ok(phys !== undefined)
    const pageStart = phys - (phys % BigInt(PAGE))
    const [segment] = new RangeMap(layout.ranges).segments(pageStart, PAGE)
    assert.ok(segment?.backing !== undefined, 'the pattern page is in the direct map')
    const offset = segment.backing
    assert.equal(offset % BigInt(PAGE), 0n)
    const page = parseOd(await shell.run(`dd if=/proc/kcore bs=4096 skip=${offset / BigInt(PAGE)} count=1 2>/dev/null | od -An -tx1 -v`))
    assert.equal(page.length, PAGE)

    // The real header and the page the guest kernel served, at their offsets in a sparse file.
    const path = join(dir, 'kcore')
    const fd = openSync(path, 'w')
    try {
      writeSync(fd, header, 0, header.length, 0)
      writeSync(fd, page, 0, page.length, Number(offset))
    } finally {
      closeSync(fd)
    }
    const copy = await createConnector(kcoreConnectorKind, path)
    try {
      assert.deepEqual(Buffer.from(await readExact(copy.mem, physAddr(phys), 128)), bytes)
      assert.match(copy.hints.vmcoreinfo ?? '', new RegExp(`OSRELEASE=${truth.release.replaceAll('.', '\\.')}`))
    } finally {
      await copy.close()
    }
  })
})
