/**
 * ELF note records (PT_NOTE contents), read and written in one place:
 *
 *   namesz u32 │ descsz u32 │ type u32 │ name (namesz bytes, NUL-ended) pad │ desc (descsz bytes) pad
 *
 * padded to the segment's alignment (4, or 8 when p_align is 8). Reading is
 * bounded (MAX_NOTES records, MAX_NOTE_BYTES of note segments per image) and
 * every length is checked against the segment before use: a record that
 * runs past its segment is reported as 'malformed', naming the source, the
 * segment and the record, never skipped in silence.
 */
import { MemweaveError } from '../../errors/index.js'
import type { ElfNote } from '../connector.js'

/** Most notes one image may hold (a core has a few per thread). */
export const MAX_NOTES = 1 << 16
/** All note segments of one image together; real cores carry kilobytes to a few megabytes. */
export const MAX_NOTE_BYTES = 64 * 1024 * 1024

const NOTE_HEADER_BYTES = 12
const latin1 = new TextDecoder('latin1')
const utf8 = new TextDecoder('utf-8')
const encoder = new TextEncoder()

export interface NoteSegment {
  /** The segment's bytes. */
  readonly bytes: Uint8Array
  /** p_align of the segment: 8 pads to 8 bytes, anything else to 4. */
  readonly align: bigint
  /** Where the segment starts in the image (for messages). */
  readonly fileOffset: number
  /** Names the segment in messages: "PT_NOTE #0". */
  readonly label: string
}

function malformed(sourceName: string, problem: string): MemweaveError {
  return new MemweaveError('connector', 'malformed', `${sourceName}: ${problem}`)
}

function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment
}

/** Throws 'malformed' when note segments of `totalBytes` together exceed the bound (check before reading them). */
export function checkNoteBytes(sourceName: string, totalBytes: bigint | number): void {
  if (BigInt(totalBytes) > BigInt(MAX_NOTE_BYTES)) throw malformed(sourceName, `note segments total more than ${MAX_NOTE_BYTES} bytes`)
}

/** Parses one note segment, appending its records to `into` (which may hold the image's earlier notes). */
export function parseElfNotes(sourceName: string, segment: NoteSegment, into: ElfNote[]): void {
  const { bytes, fileOffset, label } = segment
  const alignment = segment.align === 8n ? 8 : 4
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let pos = 0
  while (pos < bytes.length) {
    const where = `${label} note #${into.length} at offset ${fileOffset + pos}`
    if (pos + NOTE_HEADER_BYTES > bytes.length) {
      // Trailing padding (zeros) is fine; a cut-off header is not.
      if (bytes.subarray(pos).every((b) => b === 0)) return
      throw malformed(sourceName, `${where}: header cut off by the end of the note segment (${bytes.length - pos} of ${NOTE_HEADER_BYTES} bytes)`)
    }
    if (into.length >= MAX_NOTES) throw malformed(sourceName, `more than ${MAX_NOTES} ELF notes`)
    const nameBytes = view.getUint32(pos, true)
    const descBytes = view.getUint32(pos + 4, true)
    const type = view.getUint32(pos + 8, true)
    const nameEnd = pos + NOTE_HEADER_BYTES + nameBytes
    if (nameEnd > bytes.length) throw malformed(sourceName, `${where}: name of ${nameBytes} bytes runs past the end of the note segment`)
    const descStart = descBytes === 0 ? nameEnd : alignUp(nameEnd, alignment)
    if (descStart + descBytes > bytes.length) {
      throw malformed(sourceName, `${where}: descriptor of ${descBytes} bytes runs past the end of the note segment`)
    }
    const rawName = bytes.subarray(pos + NOTE_HEADER_BYTES, nameEnd)
    const nul = rawName.indexOf(0)
    into.push({
      name: latin1.decode(nul < 0 ? rawName : rawName.subarray(0, nul)),
      type,
      desc: bytes.slice(descStart, descStart + descBytes),
    })
    pos = alignUp(descStart + descBytes, alignment)
  }
}

/** The text of a VMCOREINFO note (kdump, kcore, QEMU with the vmcoreinfo device), trailing NULs removed. */
export function vmcoreinfoText(notes: readonly ElfNote[]): string | undefined {
  const note = notes.find((n) => n.name === 'VMCOREINFO')
  if (note === undefined) return undefined
  let end = note.desc.length
  while (end > 0 && note.desc[end - 1] === 0) end--
  return utf8.decode(note.desc.subarray(0, end))
}

/** Serialises notes with 4-byte padding; an empty name is written with namesz 0, any other NUL-terminated. */
export function encodeElfNotes(notes: readonly ElfNote[]): Uint8Array {
  const names = notes.map((note) => encoder.encode(note.name))
  const nameSizes = names.map((name) => (name.length === 0 ? 0 : name.length + 1))
  const sizes = notes.map((note, i) => NOTE_HEADER_BYTES + alignUp(nameSizes[i] ?? 0, 4) + alignUp(note.desc.length, 4))
  const out = new Uint8Array(sizes.reduce((a, b) => a + b, 0))
  const view = new DataView(out.buffer)
  let at = 0
  notes.forEach((note, i) => {
    const nameSize = nameSizes[i] ?? 0
    view.setUint32(at, nameSize, true)
    view.setUint32(at + 4, note.desc.length, true)
    view.setUint32(at + 8, note.type, true)
    out.set(names[i] ?? new Uint8Array(0), at + NOTE_HEADER_BYTES)
    out.set(note.desc, at + NOTE_HEADER_BYTES + alignUp(nameSize, 4))
    at += sizes[i] ?? 0
  })
  return out
}
