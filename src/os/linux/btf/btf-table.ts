/**
 * The raw BTF table: validates the header and walks the type section once,
 * recording where each type starts. Everything else (names, members, sizes)
 * is read from the bytes on demand through the accessors here, each of which
 * bounds-checks against the section it reads.
 */
import { MemweaveError } from '../../../errors/index.js'
import {
  BTF_HEADER_BYTES, BTF_MAGIC, BTF_MAGIC_SWAPPED, BTF_MAX_TYPES, BTF_TYPE_BYTES, BTF_VERSION, extraBytes, kindName,
} from './btf-format.js'

export interface BtfParseOptions {
  /** Refuse blobs with more types than this (default: the kernel's own limit, 1,048,575). */
  maxTypes?: number
}

export function malformed(message: string): MemweaveError {
  return new MemweaveError('os', 'malformed', `BTF: ${message}`)
}

const decoder = new TextDecoder('utf-8')

export class BtfTable {
  readonly typeCount: number
  private readonly view: DataView
  /** Absolute byte offset of each type's header, by id (index 0 unused: void). */
  private readonly offsets: Uint32Array
  private readonly kinds: Uint8Array
  private readonly strStart: number
  private readonly strEnd: number

  private constructor(readonly bytes: Uint8Array, view: DataView, offsets: Uint32Array, kinds: Uint8Array,
    typeCount: number, strStart: number, strEnd: number) {
    this.view = view
    this.offsets = offsets
    this.kinds = kinds
    this.typeCount = typeCount
    this.strStart = strStart
    this.strEnd = strEnd
  }

  static parse(bytes: Uint8Array, options: BtfParseOptions = {}): BtfTable {
    const maxTypes = options.maxTypes ?? BTF_MAX_TYPES
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    const total = bytes.byteLength
    if (total < BTF_HEADER_BYTES) throw malformed(`blob is ${total} bytes, shorter than the ${BTF_HEADER_BYTES}-byte header`)
    const magic = view.getUint16(0, true)
    if (magic === BTF_MAGIC_SWAPPED) {
      throw new MemweaveError('os', 'unsupported', 'BTF: big-endian blob (magic 0x9feb at offset 0); only little-endian BTF is supported')
    }
    if (magic !== BTF_MAGIC) throw malformed(`bad magic 0x${magic.toString(16)} at offset 0 (want 0xeb9f)`)
    const version = view.getUint8(2)
    if (version !== BTF_VERSION) {
      throw new MemweaveError('os', 'unsupported', `BTF: version ${version} at offset 2 is not supported (want ${BTF_VERSION})`)
    }
    const hdrLen = view.getUint32(4, true)
    const typeOff = view.getUint32(8, true)
    const typeLen = view.getUint32(12, true)
    const strOff = view.getUint32(16, true)
    const strLen = view.getUint32(20, true)
    if (hdrLen < BTF_HEADER_BYTES || hdrLen > total) {
      throw malformed(`hdr_len ${hdrLen} at offset 4 is outside ${BTF_HEADER_BYTES}..${total} (blob length)`)
    }
    const body = total - hdrLen
    if (typeOff % 4 !== 0 || typeLen % 4 !== 0) throw malformed(`type section (type_off ${typeOff}, type_len ${typeLen}) is not 4-byte aligned`)
    if (typeOff + typeLen > body) throw malformed(`type section ${typeOff}+${typeLen} (offsets 8, 12) runs past the ${body} bytes after the header`)
    if (strOff + strLen > body) throw malformed(`string section ${strOff}+${strLen} (offsets 16, 20) runs past the ${body} bytes after the header`)
    if (typeLen > 0 && strLen > 0 && typeOff < strOff + strLen && strOff < typeOff + typeLen) {
      throw malformed(`type section ${typeOff}+${typeLen} overlaps string section ${strOff}+${strLen}`)
    }
    const strStart = hdrLen + strOff
    const strEnd = strStart + strLen
    if (strLen === 0 || bytes[strStart] !== 0) throw malformed(`string section at offset ${strStart} must start with an empty string`)
    if (bytes[strEnd - 1] !== 0) throw malformed(`string section ends at offset ${strEnd} without a NUL terminator`)

    const typeStart = hdrLen + typeOff
    const typeEnd = typeStart + typeLen
    // Every type is at least 12 bytes, so this bounds the table by the blob's own size.
    const capacity = Math.floor(typeLen / BTF_TYPE_BYTES) + 1
    const offsets = new Uint32Array(capacity)
    const kinds = new Uint8Array(capacity)
    let id = 0
    let pos = typeStart
    while (pos < typeEnd) {
      if (pos + BTF_TYPE_BYTES > typeEnd) throw malformed(`type ${id + 1} at offset ${pos}: truncated header (section ends at ${typeEnd})`)
      const nameOff = view.getUint32(pos, true)
      const info = view.getUint32(pos + 4, true)
      const kind = (info >>> 24) & 0x1f
      const extra = extraBytes(kind, info & 0xffff)
      if (extra < 0) throw malformed(`type ${id + 1} at offset ${pos}: unknown kind ${kind} (newer kernel?)`)
      if (pos + BTF_TYPE_BYTES + extra > typeEnd) {
        throw malformed(`type ${id + 1} (${kindName(kind)}) at offset ${pos} needs ${BTF_TYPE_BYTES + extra} bytes; section ends at ${typeEnd}`)
      }
      if (nameOff >= strLen) throw malformed(`type ${id + 1} at offset ${pos}: name offset ${nameOff} is past the string section (${strLen} bytes)`)
      id += 1
      if (id > maxTypes) throw new MemweaveError('os', 'too_large', `BTF: more than ${maxTypes} types (limit); stopped at offset ${pos}`)
      offsets[id] = pos
      kinds[id] = kind
      pos += BTF_TYPE_BYTES + extra
    }
    return new BtfTable(bytes, view, offsets, kinds, id, strStart, strEnd)
  }

  /** Throws unless id names a real type (1..typeCount); `from` says who referred to it. */
  check(id: number, from: string): void {
    if (!Number.isInteger(id) || id < 1 || id > this.typeCount) {
      throw malformed(`${from} refers to type id ${id}, outside 1..${this.typeCount}`)
    }
  }

  kind(id: number): number { return this.kinds[id] ?? 0 }
  offset(id: number): number { return this.offsets[id] ?? 0 }
  nameOff(id: number): number { return this.view.getUint32(this.offset(id), true) }
  info(id: number): number { return this.view.getUint32(this.offset(id) + 4, true) }
  vlen(id: number): number { return this.info(id) & 0xffff }
  kindFlag(id: number): boolean { return (this.info(id) >>> 31) === 1 }
  /** The size-or-type word: a byte size for INT/STRUCT/UNION/ENUM/FLOAT/DATASEC, a type id for the rest. */
  sizeOrType(id: number): number { return this.view.getUint32(this.offset(id) + 8, true) }
  name(id: number): string { return this.string(this.nameOff(id), `type ${id}`) }

  /** u32 at `index` words into the kind-specific data after type id's header (bounds proven by the scan). */
  u32(id: number, index: number): number { return this.view.getUint32(this.offset(id) + BTF_TYPE_BYTES + index * 4, true) }
  i32(id: number, index: number): number { return this.view.getInt32(this.offset(id) + BTF_TYPE_BYTES + index * 4, true) }

  /** NUL-terminated string at `off` in the string section; the section is known to end with NUL. */
  string(off: number, from: string): string {
    const start = this.strStart + off
    if (!Number.isInteger(off) || off < 0 || start >= this.strEnd) {
      throw malformed(`${from}: string offset ${off} is past the string section (${this.strEnd - this.strStart} bytes)`)
    }
    const end = this.bytes.indexOf(0, start)
    return end === start ? '' : decodeAscii(this.bytes, start, end)
  }
}

/** Names are ASCII in practice; build them directly and fall back to UTF-8 only when a byte says so. */
function decodeAscii(bytes: Uint8Array, start: number, end: number): string {
  let text = ''
  for (let i = start; i < end; i++) {
    const byte = bytes[i] ?? 0
    if (byte >= 0x80) return decoder.decode(bytes.subarray(start, end))
    text += String.fromCharCode(byte)
  }
  return text
}
