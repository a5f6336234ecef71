/**
 * The `windows` OS kind on built images (windows-image-kit.ts) in every
 * container: processes, info, maps, modules, drivers and a pattern read
 * through each process's own page tables must be what the kit placed,
 * including pages that are paged out or missing from the dump.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { MemweaveError } from '../../errors/index.js'
import { virtAddr } from '../../mem/index.js'
import { buildWindowsImage } from './windows-image-kit.js'
import type { BuiltWindows } from './windows-image-kit.js'
import { CONTAINERS, containerBytes, openBuilt, openConnector, openWindows } from './windows-test-kit.js'

let dir: string
before(async () => { dir = await mkdtemp(join(tmpdir(), 'mw-windows-')) })
after(async () => { await rm(dir, { recursive: true, force: true }) })

const EXPECTED_ROOT: Record<(typeof CONTAINERS)[number], RegExp> = {
  'raw': /low stub/,
  'elf': /self-referencing PML4/,
  'pagedu64-full': /crash dump header/,
  'pagedu64-bitmap': /crash dump header/,
}

for (const container of CONTAINERS) {
  const withKdbg = container === 'pagedu64-full' || container === 'elf'
  describe(`windows on a built image (${container}, ${withKdbg ? 'KDBG present' : 'no KDBG: offsets from data'})`, () => {
    let image: BuiltWindows
    let opened: Awaited<ReturnType<typeof openBuilt>>
    before(async () => {
      image = buildWindowsImage({ lowStub: container === 'raw', kdbg: withKdbg, seed: 11 })
      opened = await openBuilt(dir, image, container, container === 'pagedu64-bitmap' ? 'strict=true' : '')
    })
    after(async () => { await opened.close() })

    it('finds the root, ntoskrnl and the EPROCESS offsets', async () => {
      const info = await opened.os.info()
      assert.match(String(info['dtbSource']), EXPECTED_ROOT[container])
      assert.equal(info['kernelBase'], '0xfffff80000400000')
      assert.equal(info['build'], 19041)
      const offsets = (info['eprocess'] as { offsets: Record<string, string> }).offsets
      assert.deepEqual(offsets, { uniqueProcessId: '0x440', activeProcessLinks: '0x448', imageFileName: '0x5a8', directoryTableBase: '0x28', inheritedFromUniqueProcessId: '0x540', peb: '0x550', vadRoot: '0x7d8' })
      const sources = (info['eprocess'] as { sources: Record<string, string> }).sources
      assert.equal(sources['peb'], withKdbg ? 'KDBG' : 'data (user PEB whose Ldr reads)')
      assert.equal(info['kdbg'] === undefined, !withKdbg)
    })

    it('lists the processes the image holds', async () => {
      const refs = await opened.os.processes()
      assert.deepEqual(refs.map((r) => [r.pid, r.ppid, r.name]), image.processes.map((p) => [p.pid, p.ppid, p.name]).sort((a, b) => Number(a[0]) - Number(b[0])))
    })

    it('reads info, maps, modules and memory of every process', async () => {
      for (const truth of image.processes) {
        const proc = await opened.os.process(truth.pid)
        assert.ok(proc !== undefined, `pid ${truth.pid}`)
        const info = await proc.info()
        assert.equal(info.dtb, truth.dtb)
        assert.equal(info.kernelThread, truth.kernelOnly)
        assert.equal(info.path, truth.path)
        assert.deepEqual(info.cmdline, truth.cmdline)
        const maps = await proc.maps()
        assert.deepEqual(maps.map((m) => [m.start, m.end, m.perms]), truth.vads.map((v) => [v.start, v.end, v.perms]), `maps of ${truth.name}`)
        for (const m of truth.modules) assert.ok(maps.some((e) => e.start === m.base && e.path === m.path), `map of ${m.name} names its path`)
        const modules = await proc.modules()
        assert.deepEqual(modules.map((m) => [m.name, m.base, m.sizeBytes, m.path]), truth.modules.map((m) => [m.name, m.base, m.sizeBytes, m.path]))
        if (truth.pattern === undefined) continue
        const pieces = [
          { addr: virtAddr(truth.pattern.addr), length: truth.pattern.bytes.length },
          { addr: virtAddr(truth.pagedOut!), length: 16 },
          { addr: virtAddr(truth.droppable!.virt), length: 16 },
          { addr: virtAddr(truth.modules[0]!.base), length: 2 },
        ]
        const [pattern, pagedOut, dropped, mz] = await proc.mem.read(pieces)
        assert.ok(pattern?.ok === true && Buffer.from(pattern.data).equals(truth.pattern.bytes), `pattern of ${truth.name}`)
        assert.equal(pagedOut?.ok, false, 'a paged-out page fails alone')
        assert.ok(pagedOut?.ok === false && pagedOut.error instanceof MemweaveError)
        assert.ok(mz?.ok === true && mz.data[0] === 0x4d && mz.data[1] === 0x5a)
        if (container === 'pagedu64-bitmap') assert.equal(dropped?.ok, false, 'a page missing from the bitmap dump fails (strict)')
        else assert.equal(dropped?.ok, true)
      }
    })

    it('lists the drivers', async () => {
      const drivers = await opened.os.kernelModules()
      assert.deepEqual(drivers.map((d) => [d.name, d.base, d.sizeBytes, d.path]), image.drivers.map((d) => [d.name, d.base, d.sizeBytes, d.path]))
    })
  })
}

describe('encoded KDBG', () => {
  it('is decoded without its keys, by the known header and KernBase', async () => {
    const image = buildWindowsImage({ kdbg: 'encoded', seed: 21 })
    const opened = await openBuilt(dir, image, 'raw')
    try {
      const info = await opened.os.info()
      assert.match(String(info['kdbgSource']), /encoded block .*decoded by known plaintext/)
      const kdbg = info['kdbg'] as { address: string; psActiveProcessHead: string; offsets: Record<string, string> }
      assert.equal(kdbg.address, `0x${image.kdbg!.toString(16)}`)
      assert.equal(kdbg.psActiveProcessHead, `0x${image.processHead.toString(16)}`)
      assert.equal(kdbg.offsets['eprocessPeb'], '0x550')
      assert.equal((info['eprocess'] as { sources: Record<string, string> }).sources['peb'], 'KDBG')
    } finally {
      await opened.close()
    }
  })
})

describe('without PsInitialSystemProcess', () => {
  it('finds System and the links offset from the list and the kernel DTB', async () => {
    const image = buildWindowsImage({ hideInitialSystemProcess: true, seed: 4 })
    const opened = await openBuilt(dir, image, 'elf')
    try {
      const info = await opened.os.info()
      assert.equal(info['psInitialSystemProcess'], undefined)
      assert.equal((info['eprocess'] as { offsets: Record<string, string> }).offsets['activeProcessLinks'], '0x448')
      assert.deepEqual((await opened.os.processes()).map((p) => p.name), image.processes.map((p) => p.name))
    } finally {
      await opened.close()
    }
  })
})

describe('hostile process lists', () => {
  it('a cyclic process list fails cleanly', async () => {
    const image = buildWindowsImage({ cyclic: true, kdbg: true })
    const connector = await openConnector(dir, 'cyclic.dmp', containerBytes(image, 'pagedu64-full'))
    try {
      await assert.rejects(openWindows(connector), (err: unknown) => err instanceof MemweaveError && err.kind === 'malformed' && /loops back/.test(err.message))
    } finally {
      await connector.close()
    }
  })

  it('memory with no kernel in it fails naming what was tried', async () => {
    const connector = await openConnector(dir, 'empty.raw', new Uint8Array(0x200000))
    try {
      await assert.rejects(openWindows(connector), (err: unknown) => err instanceof MemweaveError && err.kind === 'not_found' && /no page-table root leads to ntoskrnl/.test(err.message))
    } finally {
      await connector.close()
    }
  })
})
