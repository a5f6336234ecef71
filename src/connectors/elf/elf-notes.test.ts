/**
 * The one ELF note parser: what the encoder writes reads back the same
 * (fast-check), a record that runs past its segment or a header cut off by
 * the segment's end is reported as 'malformed' naming the record, the note
 * count and the note bytes are bounded, random bytes never throw anything
 * but a 'malformed' MemweaveError, and kcore (which used to stop silently at
 * a bad record) now refuses the file.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { MemweaveError } from '../../errors/index.js'
import type { ElfNote } from '../connector.js'
import { parseKcore } from '../kcore/index.js'
import { buildKcore, PAGE_OFFSET } from '../kcore/kcore-test-kit.js'
import { MAX_NOTES, MAX_NOTE_BYTES, checkNoteBytes, encodeElfNotes, parseElfNotes, vmcoreinfoText } from './elf-notes.js'

const SEED = 1717

function parse(bytes: Uint8Array, align = 4n): ElfNote[] {
  const notes: ElfNote[] = []
  parseElfNotes('test.core', { bytes, align, fileOffset: 0x100, label: 'PT_NOTE #0' }, notes)
  return notes
}

const malformed = (pattern: RegExp) => (err: unknown): boolean =>
  err instanceof MemweaveError && err.kind === 'malformed' && err.message.startsWith('test.core: ') && pattern.test(err.message)

const noteArb = fc.record({
  name: fc.stringMatching(/^[A-Z]{1,12}$/),
  type: fc.nat({ max: 0xffffffff }),
  desc: fc.uint8Array({ maxLength: 64 }),
})

test('encoded notes parse back to the same names, types and descriptors', () => {
  fc.assert(fc.property(fc.array(noteArb, { maxLength: 20 }), (notes) => {
    const parsed = parse(encodeElfNotes(notes))
    assert.deepEqual(parsed.map((n) => ({ name: n.name, type: n.type, desc: [...n.desc] })), notes.map((n) => ({ name: n.name, type: n.type, desc: [...n.desc] })))
  }), { seed: SEED, numRuns: 200 })
})

test('notes are appended after the ones already read (several PT_NOTE segments)', () => {
  const notes: ElfNote[] = [{ name: 'CORE', type: 1, desc: new Uint8Array(4) }]
  parseElfNotes('test.core', { bytes: encodeElfNotes([{ name: 'LINUX', type: 2, desc: new Uint8Array(8) }]), align: 4n, fileOffset: 0, label: 'PT_NOTE #1' }, notes)
  assert.deepEqual(notes.map((n) => n.name), ['CORE', 'LINUX'])
})

test('8-byte aligned segments pad name and descriptor to 8', () => {
  const bytes = new Uint8Array(32)
  const view = new DataView(bytes.buffer)
  view.setUint32(0, 5, true) // "CORE\0" ends at 17: the descriptor starts at 24 (4-byte padding would put it at 20)
  view.setUint32(4, 8, true)
  view.setUint32(8, 1, true)
  bytes.set([0x43, 0x4f, 0x52, 0x45, 0], 12)
  bytes.set([1, 2, 3, 4, 5, 6, 7, 8], 24)
  assert.deepEqual([...parse(bytes, 8n)[0]!.desc], [1, 2, 3, 4, 5, 6, 7, 8])
})

test('a descriptor running past the segment is malformed, naming the record and its offset', () => {
  const good = encodeElfNotes([{ name: 'CORE', type: 1, desc: new Uint8Array(16) }])
  const bytes = encodeElfNotes([{ name: 'CORE', type: 1, desc: new Uint8Array(16) }, { name: 'VMCOREINFO', type: 0, desc: new Uint8Array(32) }])
  assert.throws(() => parse(bytes.subarray(0, bytes.length - 8)), malformed(new RegExp(`PT_NOTE #0 note #1 at offset ${0x100 + good.length}: descriptor of 32 bytes runs past the end`)))
})

test('a name running past the segment is malformed', () => {
  const bytes = new Uint8Array(16)
  new DataView(bytes.buffer).setUint32(0, 1000, true)
  assert.throws(() => parse(bytes), malformed(/note #0 .*name of 1000 bytes runs past the end/))
})

test('a header cut off by the end of the segment is malformed; zero padding after the last record is not', () => {
  const bytes = encodeElfNotes([{ name: 'CORE', type: 1, desc: new Uint8Array(4) }])
  const cut = new Uint8Array(bytes.length + 6)
  cut.set(bytes)
  assert.equal(parse(cut).length, 1, 'zeros after the last record are padding')
  cut[bytes.length] = 5
  assert.throws(() => parse(cut), malformed(/note #1 .*header cut off by the end of the note segment \(6 of 12 bytes\)/))
})

test(`at most ${MAX_NOTES} notes, and note segments of at most ${MAX_NOTE_BYTES} bytes`, () => {
  const empty = new Uint8Array(12 * (MAX_NOTES + 1)) // MAX_NOTES + 1 records with empty name and descriptor
  assert.throws(() => parse(empty), malformed(new RegExp(`more than ${MAX_NOTES} ELF notes`)))
  assert.equal(parse(empty.subarray(0, 12 * MAX_NOTES)).length, MAX_NOTES)
  checkNoteBytes('test.core', MAX_NOTE_BYTES)
  assert.throws(() => checkNoteBytes('test.core', BigInt(MAX_NOTE_BYTES) + 1n), malformed(/note segments total more than/))
})

test('random bytes either parse or fail as malformed, never anything else', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 256 }), fc.constantFrom(4n, 8n), (bytes, align) => {
    try {
      for (const note of parse(bytes, align)) assert.ok(note.desc.length <= bytes.length)
    } catch (err) {
      assert.ok(malformed(/./)(err), String(err))
    }
  }), { seed: SEED, numRuns: 500 })
})

test('VMCOREINFO text loses its trailing NULs; no note, no text', () => {
  const desc = new TextEncoder().encode('OSRELEASE=6.1.0\nPAGESIZE=4096\n\0\0\0')
  assert.equal(vmcoreinfoText([{ name: 'CORE', type: 1, desc: new Uint8Array(4) }, { name: 'VMCOREINFO', type: 0, desc }]), 'OSRELEASE=6.1.0\nPAGESIZE=4096\n')
  assert.equal(vmcoreinfoText([{ name: 'CORE', type: 1, desc: new Uint8Array(4) }]), undefined)
})

test('kcore: a malformed note fails the open instead of cutting the notes short', async () => {
  const segment = [{ vaddr: PAGE_OFFSET + 0x1000n, paddr: 0x1000n, offset: 0x2000, size: 0x1000 }]
  const notes = [{ name: 'CORE', type: 1, desc: new Uint8Array(8) }, { name: 'VMCOREINFO', type: 0, desc: new Uint8Array(16) }]
  const file = buildKcore(segment, notes)
  const source = (bytes: Uint8Array) => ({ name: '/proc/kcore', read: async (offset: number, length: number) => bytes.subarray(offset, offset + length) })
  assert.equal((await parseKcore(source(file))).notes.length, 2)
  // The second record's descsz now claims far more than the segment holds.
  const second = 64 + 56 * 2 + encodeElfNotes([notes[0]!]).length
  file.writeUInt32LE(0x10000, second + 4)
  await assert.rejects(parseKcore(source(file)), (err: unknown) => err instanceof MemweaveError && err.kind === 'malformed' && /PT_NOTE #0 note #1 .*descriptor of 65536 bytes runs past the end/.test(err.message))
})
