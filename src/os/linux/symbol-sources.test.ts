/**
 * The small text sources: VMCOREINFO notes and System.map / kallsyms files
 * (with the KASLR slide applied only to kernel image addresses), and the
 * page-table root candidates taken from QEMU CPU notes and VMCOREINFO.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MemweaveError } from '../../errors/index.js'
import { dtbCandidates } from './dtb-candidates.js'
import { parseSymbolFile } from './symbol-table.js'
import { parseVmcoreinfo } from './vmcoreinfo.js'

const NOTE = `OSRELEASE=6.1.0-56-amd64
PAGESIZE=4096
SYMBOL(init_top_pgt)=ffffffffb5610000
SYMBOL(_stext)=ffffffffb3c00000
OFFSET(uts_namespace.name)=0
NUMBER(phys_base)=-526385152
NUMBER(pgtable_l5_enabled)=0
KERNELOFFSET=32c00000
`

function qemuNote(cr3: bigint, cr4: bigint): { name: string; type: number; desc: Uint8Array } {
  const desc = new Uint8Array(440)
  const view = new DataView(desc.buffer)
  view.setUint32(0, 1, true)
  view.setUint32(4, 440, true)
  view.setBigUint64(392 + 3 * 8, cr3, true)
  view.setBigUint64(392 + 4 * 8, cr4, true)
  return { name: 'QEMU', type: 0, desc }
}

describe('VMCOREINFO', () => {
  it('parses release, page size, symbols, numbers and the KASLR offset', () => {
    const info = parseVmcoreinfo(NOTE)
    assert.equal(info.osRelease, '6.1.0-56-amd64')
    assert.equal(info.pageSizeBytes, 4096)
    assert.equal(info.kernelOffset, 0x32c00000n)
    assert.equal(info.symbols.get('init_top_pgt'), 0xffffffffb5610000n)
    assert.equal(info.numbers.get('phys_base'), -526385152n)
    assert.equal(info.raw.get('OFFSET(uts_namespace.name)'), '0')
  })
})

describe('symbol files', () => {
  it('slides a System.map onto the _text found in memory, leaving per-cpu and absolute values alone', () => {
    const text = 'ffffffff81000000 T _text\n0000000000000000 A __per_cpu_start\n000000000001fb80 A current_task\nffffffff82a1aa40 D init_task\nffffffffc0001000 t mod_fn\t[dummy]\n'
    const table = parseSymbolFile(text, 'System.map', 0xffffffffb3c00000n)
    assert.equal(table.addr('_text'), 0xffffffffb3c00000n)
    assert.equal(table.addr('init_task'), 0xffffffff82a1aa40n + 0x32c00000n)
    assert.equal(table.addr('current_task'), 0x1fb80n)
    assert.equal(table.has('mod_fn'), false, 'module symbols are skipped')
    assert.match(table.source, /slide 0x32c00000/)
    assert.throws(() => table.addr('nope'), (err: unknown) => err instanceof MemweaveError && err.kind === 'not_found' && /'nope' not found in symbols file System.map/.test(err.message))
  })

  it('keeps a /proc/kallsyms of the same boot as it is', () => {
    const table = parseSymbolFile('ffffffffb3c00000 T _stext\nffffffffb561aa40 D init_task\n', 'kallsyms', 0xffffffffb3c00000n)
    assert.equal(table.addr('init_task'), 0xffffffffb561aa40n)
    assert.match(table.source, /slide 0x0\)/)
  })
})

describe('page-table root candidates', () => {
  it('orders CR3 (kernel half of a PTI pair first), then VMCOREINFO; dtb= overrides; LA57 picks 5-level', () => {
    const info = parseVmcoreinfo(NOTE)
    const notes = [qemuNote(0x1063001n, 0x6f0n)]
    assert.deepEqual(dtbCandidates({ elfNotes: notes }, info, 0x5123n).map((c) => [c.dtb, c.source]), [[0x5000n, 'argument dtb=']])
    const candidates = dtbCandidates({ elfNotes: notes }, info, undefined)
    assert.deepEqual(candidates.map((c) => [c.dtb, c.source, c.modes.map((m) => m.virtualBits)]), [
      [0x1062000n, 'CR3 of CPU 0 (QEMU note)', [48]],
      [0x1063000n, 'CR3 of CPU 0 (QEMU note)', [48]],
      [0xffffffffb5610000n - 0xffffffff80000000n - 526385152n, 'VMCOREINFO init_top_pgt', [48]],
    ])
    const la57 = dtbCandidates({ elfNotes: [qemuNote(0x2000n, 0x1000n)] }, undefined, undefined)
    assert.deepEqual(la57.map((c) => c.modes.map((m) => m.virtualBits)), [[57]])
    assert.deepEqual(dtbCandidates({}, undefined, undefined), [])
  })
})
