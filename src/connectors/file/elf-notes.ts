/**
 * ELF note records (PT_NOTE contents): namesz, descsz, type, then the name
 * and the descriptor, each padded to the segment's alignment (4, or 8 when
 * p_align is 8). Every length is checked against the segment before use.
 */
import type { ElfNote } from '../connector.js'
import { malformed } from './image-source.js'
import type { ImageSource } from './image-source.js'

/** Most notes one image may hold (a core has a few per thread). */
export const MAX_NOTES = 1 << 16

const NOTE_HEADER_BYTES = 12
const latin1 = new TextDecoder('latin1')

function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment
}

/** Parses one note segment; `label` names it in errors, `fileOffset` places it. */
export function parseNotes(source: ImageSource, bytes: Uint8Array, alignment: number, fileOffset: number, label: string, into: ElfNote[]): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let pos = 0
  while (pos + NOTE_HEADER_BYTES <= bytes.length) {
    if (into.length >= MAX_NOTES) throw malformed(source, `more than ${MAX_NOTES} ELF notes`)
    const nameBytes = view.getUint32(pos, true)
    const descBytes = view.getUint32(pos + 4, true)
    const type = view.getUint32(pos + 8, true)
    const where = `${label} note #${into.length} at offset ${fileOffset + pos}`
    const nameEnd = pos + NOTE_HEADER_BYTES + nameBytes
    if (nameEnd > bytes.length) throw malformed(source, `${where}: name of ${nameBytes} bytes runs past the end of the note segment`)
    const descStart = descBytes === 0 ? nameEnd : alignUp(nameEnd, alignment)
    if (descStart + descBytes > bytes.length) {
      throw malformed(source, `${where}: descriptor of ${descBytes} bytes runs past the end of the note segment`)
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

/** The text of a VMCOREINFO note (kdump, QEMU with the vmcoreinfo device), trailing NULs removed. */
export function vmcoreinfoText(notes: readonly ElfNote[]): string | undefined {
  const note = notes.find((n) => n.name === 'VMCOREINFO')
  if (note === undefined) return undefined
  let end = note.desc.length
  while (end > 0 && note.desc[end - 1] === 0) end--
  return new TextDecoder('utf-8').decode(note.desc.subarray(0, end))
}
