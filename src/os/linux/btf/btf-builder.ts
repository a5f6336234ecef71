/**
 * Writes BTF blobs: the test oracle for the parser, and the way seeded fake
 * guest kernels get a .BTF section. Types get ids in the order they are
 * added (from 1); a struct may be added first and given members later, so
 * self-referencing types (list_head) can be built.
 */
import { MemweaveError } from '../../../errors/index.js'
import { BTF_HEADER_BYTES, BTF_KIND, BTF_MAGIC, BTF_VERSION } from './btf-format.js'

export interface BuilderMember {
  readonly name: string
  readonly type: number
  /** Offset from the start of the struct, in bits. */
  readonly bitOffset: number
  /** Set for a bitfield: written with kind_flag, the BTF encoding modern kernels use. */
  readonly bitSize?: number
}

export class BtfBuilder {
  /** u32 words of each type, by id - 1. */
  private readonly types: number[][] = []
  private readonly strings: number[] = [0]
  private readonly stringOffsets = new Map<string, number>([['', 0]])

  /** The id the next added type will get. */
  get nextId(): number { return this.types.length + 1 }

  int(name: string, sizeBytes: number, options: { signed?: boolean; char?: boolean; bits?: number; bitOffset?: number } = {}): number {
    const encoding = (options.signed === true ? 1 : 0) | (options.char === true ? 2 : 0)
    const bits = options.bits ?? sizeBytes * 8
    return this.add(name, BTF_KIND.INT, 0, false, sizeBytes, [(encoding << 24) | ((options.bitOffset ?? 0) << 16) | bits])
  }

  ptr(target: number): number { return this.add('', BTF_KIND.PTR, 0, false, target) }
  typedef(name: string, target: number): number { return this.add(name, BTF_KIND.TYPEDEF, 0, false, target) }
  volatile(target: number): number { return this.add('', BTF_KIND.VOLATILE, 0, false, target) }
  const(target: number): number { return this.add('', BTF_KIND.CONST, 0, false, target) }
  restrict(target: number): number { return this.add('', BTF_KIND.RESTRICT, 0, false, target) }
  typeTag(name: string, target: number): number { return this.add(name, BTF_KIND.TYPE_TAG, 0, false, target) }
  float(name: string, sizeBytes: number): number { return this.add(name, BTF_KIND.FLOAT, 0, false, sizeBytes) }
  fwd(name: string, union = false): number { return this.add(name, BTF_KIND.FWD, 0, union, 0) }

  array(element: number, count: number, indexType = 0): number {
    return this.add('', BTF_KIND.ARRAY, 0, false, 0, [element, indexType, count])
  }

  struct(name: string, sizeBytes: number, members: readonly BuilderMember[] = []): number {
    const id = this.add(name, BTF_KIND.STRUCT, 0, false, sizeBytes)
    this.setMembers(id, members)
    return id
  }

  union(name: string, sizeBytes: number, members: readonly BuilderMember[] = []): number {
    const id = this.add(name, BTF_KIND.UNION, 0, false, sizeBytes)
    this.setMembers(id, members)
    return id
  }

  /** (Re)writes the members of a struct or union added earlier. */
  setMembers(id: number, members: readonly BuilderMember[]): void {
    const words = this.types[id - 1]
    if (words === undefined) throw new MemweaveError('os', 'invalid_argument', `BtfBuilder: no type ${id}`)
    const bitfields = members.some((member) => member.bitSize !== undefined)
    const extra = members.flatMap((member) => [
      this.str(member.name),
      member.type,
      bitfields ? ((member.bitSize ?? 0) << 24) | member.bitOffset : member.bitOffset,
    ])
    const kind = (words[1] ?? 0) >>> 24 & 0x1f
    words.splice(1, words.length - 1, info(kind, members.length, bitfields), words[2] ?? 0, ...extra)
  }

  /** An enum; 8-byte enums are written as ENUM64. */
  enum(name: string, sizeBytes: number, values: readonly (readonly [string, bigint | number])[], signed = false): number {
    if (sizeBytes === 8) {
      const extra = values.flatMap(([valueName, value]) => {
        const raw = BigInt.asUintN(64, BigInt(value))
        return [this.str(valueName), Number(raw & 0xffffffffn), Number(raw >> 32n)]
      })
      return this.add(name, BTF_KIND.ENUM64, values.length, signed, sizeBytes, extra)
    }
    const extra = values.flatMap(([valueName, value]) => [this.str(valueName), Number(BigInt.asUintN(32, BigInt(value)))])
    return this.add(name, BTF_KIND.ENUM, values.length, signed, sizeBytes, extra)
  }

  funcProto(returnType: number, params: readonly (readonly [string, number])[]): number {
    return this.add('', BTF_KIND.FUNC_PROTO, params.length, false, returnType, params.flatMap(([name, type]) => [this.str(name), type]))
  }

  func(name: string, proto: number, linkage = 1): number { return this.add(name, BTF_KIND.FUNC, linkage, false, proto) }
  variable(name: string, type: number, linkage = 1): number { return this.add(name, BTF_KIND.VAR, 0, false, type, [linkage]) }

  datasec(name: string, sizeBytes: number, vars: readonly (readonly [number, number, number])[]): number {
    return this.add(name, BTF_KIND.DATASEC, vars.length, false, sizeBytes, vars.flat())
  }

  declTag(name: string, target: number, componentIndex = -1): number {
    return this.add(name, BTF_KIND.DECL_TAG, 0, false, target, [componentIndex >>> 0])
  }

  /** Appends raw u32 words to the type section (for hostile-blob tests); counts as one type id. */
  raw(words: readonly number[]): number {
    this.types.push([...words])
    return this.types.length
  }

  /** Offset of a string in the string section, adding it if new. */
  str(text: string): number {
    const known = this.stringOffsets.get(text)
    if (known !== undefined) return known
    const offset = this.strings.length
    for (const byte of new TextEncoder().encode(text)) this.strings.push(byte)
    this.strings.push(0)
    this.stringOffsets.set(text, offset)
    return offset
  }

  build(): Uint8Array {
    const typeWords = this.types.flat()
    const typeLen = typeWords.length * 4
    const strLen = this.strings.length
    const out = new Uint8Array(BTF_HEADER_BYTES + typeLen + strLen)
    const view = new DataView(out.buffer)
    view.setUint16(0, BTF_MAGIC, true)
    view.setUint8(2, BTF_VERSION)
    view.setUint32(4, BTF_HEADER_BYTES, true)
    view.setUint32(8, 0, true)
    view.setUint32(12, typeLen, true)
    view.setUint32(16, typeLen, true)
    view.setUint32(20, strLen, true)
    typeWords.forEach((word, i) => view.setUint32(BTF_HEADER_BYTES + i * 4, word >>> 0, true))
    out.set(this.strings, BTF_HEADER_BYTES + typeLen)
    return out
  }

  private add(name: string, kind: number, vlen: number, kindFlag: boolean, sizeOrType: number, extra: readonly number[] = []): number {
    this.types.push([this.str(name), info(kind, vlen, kindFlag), sizeOrType, ...extra])
    return this.types.length
  }
}

function info(kind: number, vlen: number, kindFlag: boolean): number {
  return ((kindFlag ? 1 : 0) << 31 | kind << 24 | vlen) >>> 0
}
