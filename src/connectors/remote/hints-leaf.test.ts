/** Hints survive the trip as JSON, and a peer's malformed document is refused field by field. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { hintsDocument, parseHintsDocument } from './hints-leaf.js'

const metadata = { maxAddress: 0x1_2345_6000n, idealBatchSize: 64, readonly: true, volatile: false }

test('notes, VMCOREINFO and metadata round-trip through JSON', () => {
  const hints = { elfNotes: [{ name: 'QEMU', type: 0, desc: new Uint8Array([1, 2, 0xff]) }, { name: 'CORE', type: 1, desc: new Uint8Array(0) }], vmcoreinfo: 'OSRELEASE=6.1\n' }
  const back = parseHintsDocument(JSON.parse(JSON.stringify(hintsDocument(hints, metadata))))
  assert.deepEqual(back.metadata, metadata)
  assert.equal(back.hints.vmcoreinfo, hints.vmcoreinfo)
  assert.deepEqual(back.hints.elfNotes?.map((n) => [n.name, n.type, [...n.desc]]), [['QEMU', 0, [1, 2, 0xff]], ['CORE', 1, []]])
})

test('malformed documents are refused', () => {
  const good = hintsDocument({}, metadata)
  for (const bad of [null, [], { ...good, metadata: { ...good.metadata, maxAddress: 12 } }, { ...good, elfNotes: [{ name: 'X', type: -1, desc: '' }] },
    { ...good, elfNotes: [{ name: 'X', type: 1, desc: 'zz' }] }, { ...good, vmcoreinfo: 5 }]) {
    assert.throws(() => parseHintsDocument(bad), /hints leaf is malformed/)
  }
})

test('live CPU registers round-trip as hex strings and bad ones are refused', () => {
  const hints = { cpuRegisters: [{ cpu: 0, cr3: 0x8000_0000_0257_0001n, cr4: 0x10_06f0n }, { cpu: 1, cr3: 0x1234000n, cr4: undefined }] }
  const doc = JSON.parse(JSON.stringify(hintsDocument(hints, metadata)))
  assert.deepEqual(doc.cpuRegisters, [{ cpu: 0, cr3: '0x8000000002570001', cr4: '0x1006f0' }, { cpu: 1, cr3: '0x1234000', cr4: null }])
  assert.deepEqual(parseHintsDocument(doc).hints.cpuRegisters, hints.cpuRegisters)
  assert.equal(parseHintsDocument(JSON.parse(JSON.stringify(hintsDocument({}, metadata)))).hints.cpuRegisters, undefined)
  for (const bad of [{}, [{ cpu: 0, cr3: 5, cr4: null }], [{ cpu: -1, cr3: '0x1', cr4: null }], [{ cpu: 0, cr3: '0x1', cr4: 'x' }], [{ cpu: 0, cr3: '0x11112222333344445', cr4: null }]]) {
    assert.throws(() => parseHintsDocument({ ...doc, cpuRegisters: bad }), /hints leaf is malformed: cpuRegisters/)
  }
})
