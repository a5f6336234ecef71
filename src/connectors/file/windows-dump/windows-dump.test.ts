/**
 * Windows crash dumps in the file connector: the two real triage dumps
 * (every checked value is computed here from the file bytes, with this
 * test's own offsets, not the parser's), and built full, bitmap and 32-bit
 * dumps whose pages must read back exactly.
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { after, before, describe, it } from 'node:test'
import { hex, physAddr } from '../../../mem/index.js'
import { openImage, openPath, patternBytes, readBytes, tempDir } from '../file-test-kit.js'
import type { TempDir } from '../file-test-kit.js'
import { writeWindowsDump } from './dump-writers.js'
import { realDump } from './real-dump-test-kit.js'

let dir: TempDir
before(async () => { dir = await tempDir('mw-windump-') })
after(async () => { await dir.remove() })

interface Independent {
  readonly build: number
  readonly dtb: bigint
  readonly machine: number
  readonly bugcheck: number
  readonly kdbg: bigint
  readonly head: bigint
  readonly blocks: { addr: bigint; offset: number; size: number }[]
  readonly drivers: string[]
}

/** Reads the facts straight from the bytes: DUMP_HEADER64 and TRIAGE_DUMP64 offsets, as documented. */
function readIndependently(file: Buffer): Independent {
  const blocksAt = file.readUInt32LE(0x2000 + 0x78)
  const count = file.readUInt32LE(0x2000 + 0x7c)
  const blocks = Array.from({ length: count }, (_, i) => ({
    addr: file.readBigUInt64LE(blocksAt + i * 16), offset: file.readUInt32LE(blocksAt + i * 16 + 8), size: file.readUInt32LE(blocksAt + i * 16 + 12),
  }))
  const listAt = file.readUInt32LE(0x2000 + 0x30)
  const drivers = Array.from({ length: file.readUInt32LE(0x2000 + 0x34) }, (_, i) => {
    const nameAt = file.readUInt32LE(listAt + i * 0x90)
    return file.subarray(nameAt + 4, nameAt + 4 + file.readUInt32LE(nameAt) * 2).toString('utf16le')
  })
  return {
    build: file.readUInt32LE(0x0c), dtb: file.readBigUInt64LE(0x10), machine: file.readUInt32LE(0x30), bugcheck: file.readUInt32LE(0x38),
    kdbg: file.readBigUInt64LE(0x80), head: file.readBigUInt64LE(0x28), blocks, drivers,
  }
}

for (const [name, machine] of [['triage_x64.dmp', 'x86_64'], ['triage_arm64.dmp', 'aarch64']] as const) {
  const real = realDump(name)
  describe(`real triage dump ${name}`, { skip: real.skip }, () => {
    it('header, blocks, KDBG copy and driver list match the file', async () => {
      const path = real.path!
      const file = await readFile(path)
      const truth = readIndependently(file)
      const connector = await openPath(path)
      try {
        const info = await connector.info()
        assert.equal(info['format'], 'windows-dump')
        assert.equal(info['addressing'], 'virtual')
        const w = info['windowsDump'] as Record<string, unknown>
        assert.equal(w['dumpType'], 'triage')
        assert.equal(w['build'], truth.build)
        assert.equal(w['machine'], machine)
        assert.equal(w['machineType'], `0x${truth.machine.toString(16)}`)
        assert.equal(w['dtb'], hex(truth.dtb))
        assert.equal(w['kdDebuggerDataBlock'], hex(truth.kdbg))
        assert.equal(w['psActiveProcessHead'], hex(truth.head))
        assert.deepEqual((w['bugcheck'] as { code: string }).code, `0x${truth.bugcheck.toString(16)}`)
        assert.equal((w['triage'] as { dataBlocks: number }).dataBlocks, truth.blocks.length)
        const hints = connector.hints.windowsDump
        assert.ok(hints !== undefined)
        assert.equal(hints.build, truth.build)
        assert.equal(hints.dtb, truth.dtb)
        assert.deepEqual(hints.triage?.drivers.map((d) => d.path), truth.drivers)
        // Every block reads back at its virtual address (one batch).
        const results = await connector.mem.read(truth.blocks.map((b) => ({ addr: physAddr(b.addr), length: b.size })))
        truth.blocks.forEach((b, i) => {
          const r = results[i]
          assert.ok(r?.ok === true, `block ${hex(b.addr)} reads`)
          assert.ok(Buffer.from(r.data).equals(file.subarray(b.offset, b.offset + b.size)), `block ${hex(b.addr)} bytes`)
        })
        // The KDBG copy sits at KdDebuggerDataBlock: 'KDBG' owner tag at +0x10.
        const tag = await readBytes(connector, truth.kdbg + 0x10n, 4)
        assert.equal(Buffer.from(tag).toString('latin1'), 'KDBG')
      } finally {
        await connector.close()
      }
    })
  })
}

describe('built crash dumps', () => {
  const ranges = [
    { addr: 0n, data: patternBytes(0x3000, 1) },
    { addr: 0x10000n, data: patternBytes(0x1000, 2) },
    { addr: 0x7ff000n, data: patternBytes(0x2000, 3) },
  ]
  for (const [layout, bits] of [['full', 64], ['bitmap', 64], ['full', 32]] as const) {
    it(`${bits}-bit ${layout} dump: pages read back, gaps are zeros, header facts in info`, async () => {
      const bytes = writeWindowsDump(ranges, { layout, bits, dtb: 0x1ad000n, build: 19041, kdDebuggerDataBlock: 0x80001000n, psActiveProcessHead: 0x80002000n })
      const connector = await openImage(dir, `${layout}-${bits}.dmp`, bytes)
      try {
        for (const r of ranges) assert.ok(Buffer.from(await readBytes(connector, r.addr, r.data.length)).equals(r.data), `range ${hex(r.addr)}`)
        assert.ok((await readBytes(connector, 0x4000n, 16)).every((b) => b === 0), 'a gap reads as zeros')
        const info = await connector.info()
        assert.equal(info['addressing'], 'physical')
        const w = info['windowsDump'] as Record<string, unknown>
        assert.equal(w['signature'], bits === 64 ? 'PAGEDU64' : 'PAGEDUMP')
        assert.equal(w['dumpType'], layout === 'full' ? 'full' : 'bitmap-full')
        assert.equal(w['dtb'], '0x1ad000')
        assert.equal(connector.hints.windowsDump?.psActiveProcessHead, 0x80002000n)
        assert.equal(info['rangeCount'], 3)
      } finally {
        await connector.close()
      }
    })
  }
})
