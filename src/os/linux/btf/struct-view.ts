/**
 * Reading structs out of memory by field name: StructView wraps the bytes of
 * one struct and offers typed getters by field path, each checking that the
 * field has the width the getter reads (a renamed or retyped field in a new
 * kernel fails loudly instead of returning garbage). readStructs reads many
 * structs in one batch and keeps each piece's own error.
 */
import { MemweaveError } from '../../../errors/index.js'
import { MAX_PIECE_BYTES } from '../../../mem/index.js'
import type { MemoryView } from '../../../mem/index.js'
import type { FieldLayout, StructLayout } from './btf-types.js'

const textDecoder = new TextDecoder('utf-8')

export class StructView {
  private readonly view: DataView

  /** data: the struct's bytes from its start (may be shorter than the struct: fields past the end throw). */
  constructor(readonly data: Uint8Array, readonly layout: StructLayout, readonly addr?: bigint) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength)
  }

  u8(path: string): number { return this.view.getUint8(this.at(path, 1, 'u8')) }
  u16(path: string): number { return this.view.getUint16(this.at(path, 2, 'u16'), true) }
  u32(path: string): number { return this.view.getUint32(this.at(path, 4, 'u32'), true) }
  u64(path: string): bigint { return this.view.getBigUint64(this.at(path, 8, 'u64'), true) }
  i32(path: string): number { return this.view.getInt32(this.at(path, 4, 'i32'), true) }
  i64(path: string): bigint { return this.view.getBigInt64(this.at(path, 8, 'i64'), true) }

  /** A pointer (or any 8-byte field) as an unsigned 64-bit address. */
  ptr(path: string): bigint { return this.view.getBigUint64(this.at(path, 8, 'ptr'), true) }

  /** The field's bytes (a view into data, not a copy). */
  bytes(path: string): Uint8Array {
    return this.slice(path, 'bytes')
  }

  /** A NUL-terminated char array such as task_struct.comm, decoded as UTF-8. */
  cstring(path: string): string {
    const raw = this.slice(path, 'cstring')
    const end = raw.indexOf(0)
    return textDecoder.decode(end < 0 ? raw : raw.subarray(0, end))
  }

  /** A bitfield's value (unsigned); on an ordinary integer field, its whole value. */
  bits(path: string): bigint {
    const field = this.layout.field(path)
    if (field.bitSize === undefined) return this.unsigned(field, 'bits')
    const offset = this.bounded(field, 'bits')
    let raw = 0n
    for (let i = field.sizeBytes - 1; i >= 0; i--) raw = (raw << 8n) | BigInt(this.data[offset + i] ?? 0)
    return (raw >> BigInt(field.bitOffset ?? 0)) & ((1n << BigInt(field.bitSize)) - 1n)
  }

  /** Any integer field (1, 2, 4 or 8 bytes, or a bitfield) as unsigned, sized by its type. */
  uint(path: string): bigint {
    const field = this.layout.field(path)
    return field.bitSize === undefined ? this.unsigned(field, 'uint') : this.bits(path)
  }

  /** Any integer field as signed, sign-extended from its own width. */
  int(path: string): bigint {
    const field = this.layout.field(path)
    const width = field.bitSize ?? field.sizeBytes * 8
    return BigInt.asIntN(width, this.uint(path))
  }

  private slice(path: string, getter: string): Uint8Array {
    const field = this.layout.field(path)
    const offset = this.bounded(field, getter)
    return this.data.subarray(offset, offset + field.sizeBytes)
  }

  private unsigned(field: FieldLayout, getter: string): bigint {
    const offset = this.bounded(field, getter)
    switch (field.sizeBytes) {
      case 1: return BigInt(this.view.getUint8(offset))
      case 2: return BigInt(this.view.getUint16(offset, true))
      case 4: return BigInt(this.view.getUint32(offset, true))
      case 8: return this.view.getBigUint64(offset, true)
      default:
        throw new MemweaveError('os', 'invalid_argument', `${this.title()}: field '${field.path}' is ${field.sizeBytes} bytes; ${getter}() reads 1, 2, 4 or 8`)
    }
  }

  /** Offset of a whole-bytes field of exactly `width` bytes, inside the data. */
  private at(path: string, width: number, getter: string): number {
    const field = this.layout.field(path)
    if (field.bitSize !== undefined) {
      throw new MemweaveError('os', 'invalid_argument', `${this.title()}: field '${path}' is a ${field.bitSize}-bit bitfield; use bits()`)
    }
    if (field.sizeBytes !== width) {
      throw new MemweaveError('os', 'invalid_argument', `${this.title()}: field '${path}' is ${field.sizeBytes} bytes; ${getter}() reads ${width}`)
    }
    return this.bounded(field, getter)
  }

  private bounded(field: FieldLayout, getter: string): number {
    if (field.offsetBytes + field.sizeBytes > this.data.byteLength) {
      throw new MemweaveError('os', 'out_of_bounds',
        `${this.title()}: ${getter}('${field.path}') needs bytes ${field.offsetBytes}..${field.offsetBytes + field.sizeBytes}, only ${this.data.byteLength} were read`)
    }
    return field.offsetBytes
  }

  private title(): string {
    const where = this.addr === undefined ? '' : ` at 0x${this.addr.toString(16)}`
    return `${this.layout.kind} ${this.layout.name}${where}`
  }
}

/** Wraps bytes already read; bytes may be a prefix of the struct (later fields then throw out_of_bounds). */
export function readStruct(bytes: Uint8Array, layout: StructLayout, addr?: bigint): StructView {
  return new StructView(bytes, layout, addr)
}

/**
 * Reads one struct at each address in a single batched mem.read. Each result
 * is that struct's view or that piece's own error. spanBytes (default: the
 * struct's size) reads less (a prefix) or more (trailing data) per address.
 */
export async function readStructs<A extends bigint>(mem: MemoryView<A>, addrs: readonly A[], layout: StructLayout,
  spanBytes: number = layout.sizeBytes): Promise<(StructView | MemweaveError)[]> {
  if (!Number.isInteger(spanBytes) || spanBytes <= 0 || spanBytes > MAX_PIECE_BYTES) {
    throw new MemweaveError('os', 'invalid_argument', `readStructs(${layout.kind} ${layout.name}): span ${spanBytes} bytes is outside 1..${MAX_PIECE_BYTES}`)
  }
  if (addrs.length === 0) return []
  const results = await mem.read(addrs.map((addr) => ({ addr, length: spanBytes })))
  return addrs.map((addr, index) => {
    const result = results[index]
    if (result === undefined) {
      return new MemweaveError('mem', 'internal', `read of ${layout.kind} ${layout.name} at 0x${addr.toString(16)} returned no result`)
    }
    return result.ok ? new StructView(result.data, layout, addr) : result.error
  })
}
