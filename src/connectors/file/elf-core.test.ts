/**
 * ELF core parsing: layouts from built cores (QEMU-like, gcore-like, kdump
 * duplicates), notes and VMCOREINFO, and clean errors for broken headers.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MemweaveError } from '../../errors/index.js'
import { parseElfCore } from './elf-core.js'
import { MAX_IMAGE_RANGES, ZERO_FILL_BACKING } from './image-layout.js'
import { bufferSource } from './image-source.js'
import { writeElfCore } from './image-writers.js'
import { patternBytes } from './file-test-kit.js'

const encoder = new TextEncoder()

function parse(bytes: Uint8Array): ReturnType<typeof parseElfCore> {
  return parseElfCore(bufferSource('/img/core.elf', bytes))
}

async function rejectsWith(bytes: Uint8Array, kind: string, pattern: RegExp): Promise<void> {
  await assert.rejects(parse(bytes), (err: unknown) => {
    assert.ok(err instanceof MemweaveError, `expected MemweaveError, got ${String(err)}`)
    assert.equal(err.origin, 'connector')
    assert.equal(err.kind, kind)
    assert.match(err.message, /\/img\/core\.elf/)
    assert.match(err.message, pattern)
    return true
  })
}

function setU64(bytes: Uint8Array, at: number, value: bigint): Uint8Array {
  const copy = bytes.slice()
  new DataView(copy.buffer).setBigUint64(at, value, true)
  return copy
}

function setU16(bytes: Uint8Array, at: number, value: number): Uint8Array {
  const copy = bytes.slice()
  new DataView(copy.buffer).setUint16(at, value, true)
  return copy
}

/** Offset of program header i in cores built by writeElfCore. */
const ph = (i: number): number => 64 + i * 56

describe('parseElfCore', () => {
  it('maps PT_LOAD segments by p_paddr, sorted, with file offsets', async () => {
    const a = patternBytes(4096, 1)
    const b = patternBytes(8192, 2)
    const image = writeElfCore([{ addr: 0x100000n, data: b }, { addr: 0n, data: a }])
    const layout = await parse(image)
    assert.equal(layout.format, 'elf')
    assert.equal(layout.addressing, 'physical')
    assert.deepEqual(layout.ranges.map((r) => [r.start, r.length]), [[0n, 4096n], [0x100000n, 8192n]])
    const first = layout.ranges[0]!
    assert.deepEqual(image.subarray(Number(first.backing), Number(first.backing) + 16), a.subarray(0, 16))
  })

  it('maps the p_memsz tail past p_filesz as zero fill', async () => {
    const layout = await parse(writeElfCore([{ addr: 0x2000n, data: patternBytes(100, 3), memSizeBytes: 0x1000n }]))
    assert.equal(layout.ranges.length, 2)
    assert.deepEqual([layout.ranges[1]!.start, layout.ranges[1]!.length, layout.ranges[1]!.backing], [0x2000n + 100n, 0x1000n - 100n, ZERO_FILL_BACKING])
  })

  it('parses notes and keeps the VMCOREINFO text', async () => {
    const info = 'OSRELEASE=6.1.0\nPAGESIZE=4096\n'
    const notes = [
      { name: 'CORE', type: 1, desc: patternBytes(336, 4) },
      { name: 'VMCOREINFO', type: 0, desc: encoder.encode(info) },
      { name: 'QEMU', type: 0, desc: patternBytes(5, 5) },
    ]
    const layout = await parse(writeElfCore([{ addr: 0n, data: patternBytes(64, 6) }], notes))
    assert.deepEqual(layout.notes.map((n) => [n.name, n.type, n.desc.length]), [['CORE', 1, 336], ['VMCOREINFO', 0, info.length], ['QEMU', 0, 5]])
    assert.deepEqual(layout.notes[2]!.desc, notes[2]!.desc)
  })

  it('falls back to p_vaddr when every p_paddr is 0 (process cores from gcore)', async () => {
    const layout = await parse(writeElfCore([
      { addr: 0x5555_5555_4000n, data: patternBytes(4096, 7) },
      { addr: 0x7fff_f000_0000n, data: patternBytes(4096, 8) },
    ], [], { addressField: 'vaddr' }))
    assert.equal(layout.addressing, 'virtual')
    assert.deepEqual(layout.ranges.map((r) => r.start), [0x5555_5555_4000n, 0x7fff_f000_0000n])
  })

  it('accepts a segment ending exactly at 2^64', async () => {
    const layout = await parse(writeElfCore([{ addr: (1n << 64n) - 4096n, data: patternBytes(4096, 9) }], [], { addressField: 'vaddr' }))
    assert.equal(layout.ranges[0]!.start + layout.ranges[0]!.length, 1n << 64n)
  })

  it('drops a segment wholly inside another (kdump kernel text) and counts it', async () => {
    const layout = await parse(writeElfCore([
      { addr: 0x10000n, data: patternBytes(0x1000, 10) },
      { addr: 0n, data: patternBytes(0x20000, 11) },
    ]))
    assert.equal(layout.duplicateSegments, 1)
    assert.deepEqual(layout.ranges.map((r) => [r.start, r.length]), [[0n, 0x20000n]])
  })

  it('refuses partly overlapping segments', async () => {
    await rejectsWith(writeElfCore([{ addr: 0n, data: patternBytes(0x2000, 12) }, { addr: 0x1000n, data: patternBytes(0x2000, 13) }]), 'malformed', /overlaps/)
  })

  it('says clearly that 32-bit ELF is not supported', async () => {
    const image = writeElfCore([{ addr: 0n, data: patternBytes(16, 14) }])
    image[4] = 1
    await rejectsWith(image, 'unsupported', /32-bit ELF.*not supported/)
  })

  it('refuses non-core ELF files and other machines', async () => {
    const image = writeElfCore([{ addr: 0n, data: patternBytes(16, 15) }])
    await rejectsWith(setU16(image, 16, 2), 'unsupported', /not a core file/)
    await rejectsWith(setU16(image, 18, 40), 'unsupported', /machine 40; only x86-64 \(62\) and AArch64 \(183\)/)
  })

  it('reports broken headers as malformed, naming the problem', async () => {
    const image = writeElfCore([{ addr: 0n, data: patternBytes(4096, 16) }], [{ name: 'CORE', type: 1, desc: patternBytes(40, 17) }])
    await rejectsWith(new Uint8Array(0), 'malformed', /empty/)
    await rejectsWith(image.subarray(0, 40), 'malformed', /truncated ELF header/)
    await rejectsWith(image.subarray(0, 100), 'malformed', /program header table/)
    await rejectsWith(setU16(image, 56, 0), 'malformed', /no program headers/)
    await rejectsWith(setU16(image, 56, 0xfffe), 'malformed', /runs past the end of the file/)
    await rejectsWith(setU16(image, 54, 8), 'malformed', /e_phentsize/)
    await rejectsWith(setU64(image, ph(1) + 8, 1n << 40n), 'malformed', /PT_LOAD #1: file range/)
    await rejectsWith(setU64(image, ph(1) + 32, 8192n), 'malformed', /PT_LOAD #1: file range|p_filesz/)
    await rejectsWith(setU64(image, ph(1) + 40, 16n), 'malformed', /p_filesz .* exceeds p_memsz/)
    await rejectsWith(setU64(image, ph(1) + 24, (1n << 64n) - 16n), 'malformed', /64-bit address space/)
    await rejectsWith(setU64(image, ph(0) + 32, 1n << 33n), 'malformed', /PT_NOTE #0/)
  })

  it('refuses notes whose lengths run past their segment', async () => {
    const image = writeElfCore([{ addr: 0n, data: patternBytes(64, 18) }], [{ name: 'CORE', type: 1, desc: patternBytes(40, 19) }])
    const noteAt = Number(new DataView(image.buffer).getBigUint64(ph(0) + 8, true))
    const badName = image.slice()
    new DataView(badName.buffer).setUint32(noteAt, 0xffff_fff0, true)
    await rejectsWith(badName, 'malformed', /name of \d+ bytes runs past/)
    const badDesc = image.slice()
    new DataView(badDesc.buffer).setUint32(noteAt + 4, 41, true)
    await rejectsWith(badDesc, 'malformed', /descriptor of 41 bytes runs past/)
  })

  it('reads the real program header count from section header 0 when e_phnum is PN_XNUM', async () => {
    const base = writeElfCore([{ addr: 0n, data: patternBytes(32, 20) }, { addr: 0x1000n, data: patternBytes(32, 21) }])
    const image = new Uint8Array(base.length + 64)
    image.set(base)
    const view = new DataView(image.buffer)
    view.setUint16(56, 0xffff, true)
    view.setBigUint64(40, BigInt(base.length), true)
    view.setUint32(base.length + 44, 2, true)
    const layout = await parse(image)
    assert.equal(layout.ranges.length, 2)
    view.setBigUint64(40, 0n, true)
    await rejectsWith(image, 'malformed', /PN_XNUM/)
  })

  it('writes and reads back 0xffff or more segments through PN_XNUM', async () => {
    const one = Uint8Array.of(0xee)
    const layout = await parse(writeElfCore(Array.from({ length: 0xffff }, (_, i) => ({ addr: BigInt(i) * 2n, data: one }))))
    assert.equal(layout.ranges.length, 0xffff)
    assert.equal(layout.ranges[0xfffe]!.start, 0x1fffcn)
  })

  it('refuses more segments than it supports with limit, before reading them', async () => {
    const count = MAX_IMAGE_RANGES + 1
    const image = new Uint8Array(64 + count * 56 + 64)
    image.set(writeElfCore([{ addr: 0n, data: Uint8Array.of(1) }]).subarray(0, 64))
    const view = new DataView(image.buffer)
    view.setUint16(56, 0xffff, true)
    view.setBigUint64(40, BigInt(image.length - 64), true)
    view.setUint32(image.length - 64 + 44, count, true)
    await rejectsWith(image, 'limit', new RegExp(`${count} program headers; at most ${MAX_IMAGE_RANGES}`))
  })

  it('refuses a core without PT_LOAD', async () => {
    await rejectsWith(writeElfCore([], [{ name: 'CORE', type: 1, desc: patternBytes(8, 22) }]), 'malformed', /no PT_LOAD/)
  })
})
