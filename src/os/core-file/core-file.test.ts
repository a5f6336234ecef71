import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import fc from 'fast-check'
import { MemweaveError } from '../../errors/index.js'
import type { PieceResult, ReadPiece, VirtAddr } from '../../mem/index.js'
import { writeCoreFile } from './core-file.js'
import { planCoreFile } from './core-file-layout.js'
import { readCoreFile } from './core-file-reader.js'
import type { CoreReadStats } from './core-file-reader.js'
import { NT_AUXV, NT_FILE, NT_PRPSINFO, NT_PRSTATUS } from '../../connectors/index.js'
import { mapEntry, PageMemory, TestProcess } from '../os-test-kit.js'

const AUXV = new Uint8Array(32).fill(7)

function sampleProcess(mem = new PageMemory()): TestProcess {
  mem.set(0x400000n, new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]))
  mem.set(0x401000n, new Uint8Array(4096).fill(0x11))
  mem.set(0x402000n, new Uint8Array(4096).fill(0x22))
  mem.set(0x500000n, new TextEncoder().encode('heap page zero'))
  mem.set(0x502000n, new TextEncoder().encode('heap page two'))
  return new TestProcess({
    pid: 77, name: 'prog', ppid: 5, mem, auxv: AUXV,
    maps: [
      mapEntry(0x400000n, 0x402000n, 'r--p', '/bin/prog'),
      mapEntry(0x402000n, 0x403000n, 'r-xp', '/bin/prog', 0x2000n),
      mapEntry(0x500000n, 0x504000n, 'rw-p', '[heap]'),
      mapEntry(0x600000n, 0x601000n, '---p'),
      mapEntry(0x700000n, 0x701000n, 'r--p', '[vvar]'),
      mapEntry(0x800000n, 0x801000n, 'rw-s', '/dev/shm/x'),
    ],
  })
}

interface Note { type: number; desc: Buffer }

function parseCore(core: Buffer): { phnum: number; loads: { flags: number; offset: bigint; vaddr: bigint; filesz: bigint; memsz: bigint }[]; notes: Note[] } {
  assert.deepEqual([...core.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46])
  assert.equal(core.readUInt16LE(16), 4) // ET_CORE
  assert.equal(core.readUInt16LE(18), 62) // EM_X86_64
  const phnum = core.readUInt16LE(56)
  const loads = []
  const notes: Note[] = []
  for (let i = 0; i < phnum; i++) {
    const p = 64 + i * 56
    const type = core.readUInt32LE(p)
    const offset = core.readBigUInt64LE(p + 8)
    const filesz = core.readBigUInt64LE(p + 32)
    if (type === 1) loads.push({ flags: core.readUInt32LE(p + 4), offset, vaddr: core.readBigUInt64LE(p + 16), filesz, memsz: core.readBigUInt64LE(p + 40) })
    if (type === 4) {
      for (let at = Number(offset); at < Number(offset + filesz);) {
        const namesz = core.readUInt32LE(at)
        const descsz = core.readUInt32LE(at + 4)
        const descAt = at + 12 + ((namesz + 3) & ~3)
        assert.equal(core.subarray(at + 12, at + 12 + namesz).toString(), 'CORE\0')
        notes.push({ type: core.readUInt32LE(at + 8), desc: core.subarray(descAt, descAt + descsz) })
        at = descAt + ((descsz + 3) & ~3)
      }
    }
  }
  return { phnum, loads, notes }
}

async function wholeCore(process: TestProcess, stats?: CoreReadStats): Promise<Buffer> {
  const layout = await planCoreFile(process)
  const [result] = await readCoreFile(layout, process.mem, [{ addr: 0n, length: Number(layout.totalBytes) }], stats)
  assert.ok(result?.ok)
  assert.equal(BigInt(result.data.length), layout.totalBytes)
  return Buffer.from(result.data)
}

test('the core has one PT_LOAD per mapping; unreadable and unprobeable mappings have no data', async () => {
  const stats: CoreReadStats = { zeroFilledPages: 0 }
  const core = await wholeCore(sampleProcess(), stats)
  const { phnum, loads } = parseCore(core)
  assert.equal(phnum, 7)
  assert.deepEqual(loads.map((l) => [l.vaddr, l.memsz, l.filesz, l.flags]), [
    [0x400000n, 0x2000n, 0x2000n, 4], [0x402000n, 0x1000n, 0x1000n, 5], [0x500000n, 0x4000n, 0x4000n, 6],
    [0x600000n, 0x1000n, 0n, 0], [0x700000n, 0x1000n, 0n, 4], [0x800000n, 0x1000n, 0n, 6],
  ])
  const heap = loads[2]
  assert.ok(heap !== undefined)
  const data = core.subarray(Number(heap.offset), Number(heap.offset + heap.filesz))
  assert.equal(data.subarray(0, 14).toString(), 'heap page zero')
  assert.ok(data.subarray(0x1000, 0x2000).every((b) => b === 0), 'an unmapped page inside a readable mapping reads as zeros')
  assert.equal(data.subarray(0x2000, 0x200d).toString(), 'heap page two')
  assert.equal(stats.zeroFilledPages, 2)
  assert.equal(loads[0]?.offset, 4096n, 'data starts page aligned after the notes')
})

test('notes carry prstatus, prpsinfo, auxv and the mapped files', async () => {
  const { notes } = parseCore(await wholeCore(sampleProcess()))
  assert.deepEqual(notes.map((n) => n.type), [NT_PRSTATUS, NT_PRPSINFO, NT_AUXV, NT_FILE])
  const [prstatus, prpsinfo, auxv, file] = notes
  assert.ok(prstatus && prpsinfo && auxv && file)
  assert.equal(prstatus.desc.length, 336)
  assert.equal(prstatus.desc.readInt32LE(32), 77)
  assert.equal(prstatus.desc.readInt32LE(36), 5)
  assert.equal(prpsinfo.desc.length, 136)
  assert.equal(String.fromCharCode(prpsinfo.desc[1] ?? 0), 'S')
  assert.equal(prpsinfo.desc.readInt32LE(24), 77)
  assert.equal(prpsinfo.desc.subarray(40, 56).toString().replace(/\0+$/, ''), 'prog')
  assert.equal(prpsinfo.desc.subarray(56, 136).toString().replace(/\0+$/, ''), '/bin/prog --flag')
  assert.deepEqual([...auxv.desc], [...AUXV])
  assert.equal(file.desc.readBigUInt64LE(0), 3n)
  assert.equal(file.desc.readBigUInt64LE(8), 4096n)
  assert.deepEqual([file.desc.readBigUInt64LE(16), file.desc.readBigUInt64LE(24), file.desc.readBigUInt64LE(32)], [0x400000n, 0x402000n, 0n])
  assert.equal(file.desc.readBigUInt64LE(16 + 24 + 16), 2n, 'file offset in pages')
  assert.deepEqual(file.desc.subarray(16 + 3 * 24).toString().split('\0'), ['/bin/prog', '/bin/prog', '/dev/shm/x', ''])
})

test('reads at any offsets and lengths, many per call, match the whole file', async () => {
  const process = sampleProcess()
  const whole = await wholeCore(process)
  const layout = await planCoreFile(process)
  const size = whole.length
  await fc.assert(fc.asyncProperty(
    fc.array(fc.record({ offset: fc.integer({ min: 0, max: size + 100 }), length: fc.integer({ min: 0, max: 20000 }) }), { minLength: 1, maxLength: 8 }),
    async (pieces) => {
      const results = await readCoreFile(layout, process.mem, pieces.map((p) => ({ addr: BigInt(p.offset), length: p.length })))
      pieces.forEach((p, i) => {
        const r = results[i]
        assert.ok(r?.ok)
        assert.ok(Buffer.from(r.data).equals(whole.subarray(p.offset, p.offset + p.length)))
      })
    },
  ), { numRuns: 200 })
})

test('a stale process fails the pieces that needed its memory; the head still reads', async () => {
  class GoneMemory extends PageMemory {
    override async read(pieces: readonly ReadPiece<VirtAddr>[]): Promise<PieceResult[]> {
      return pieces.map(() => ({ ok: false, error: new MemweaveError('os', 'stale', 'stale handle: process 77 (prog) has exited') }))
    }
  }
  const process = sampleProcess()
  const layout = await planCoreFile(process)
  const [head, data] = await readCoreFile(layout, new GoneMemory(), [{ addr: 0n, length: 64 }, { addr: layout.dataStart, length: 64 }])
  assert.ok(head?.ok)
  assert.ok(data !== undefined && !data.ok && data.error.kind === 'stale')
  await assert.rejects(planCoreFile(new TestProcess({ pid: 1, name: 'x', mem: new GoneMemory(), maps: [mapEntry(0x1000n, 0x2000n, 'r--p')] })), /has exited/)
})

test('writeCoreFile writes the same bytes, reporting progress', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mw-core-'))
  try {
    const process = sampleProcess()
    const progress: bigint[] = []
    const result = await writeCoreFile(process, join(dir, 'core'), (p) => progress.push(p.doneBytes))
    const whole = await wholeCore(process)
    assert.ok((await readFile(join(dir, 'core'))).equals(whole))
    assert.equal(result.sizeBytes, BigInt(whole.length))
    assert.equal(result.mappingsWithData, 3)
    assert.equal(result.zeroFilledPages, 2)
    assert.equal(progress.at(-1), BigInt(whole.length))
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
