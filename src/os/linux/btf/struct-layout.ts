/**
 * StructLayout over BTF: field lookup by dotted path through embedded
 * structs and unions, with anonymous members searched transparently (as C
 * does) and bitfields in both BTF encodings. Lookups are cached per path.
 */
import { MemweaveError } from '../../../errors/index.js'
import { BTF_KIND } from './btf-format.js'
import type { BtfResolver } from './btf-resolver.js'
import type { FieldLayout, StructLayout } from './btf-types.js'

interface Found { readonly typeId: number; readonly bitOffset: number; readonly bitSize: number }

export class CompositeLayout implements StructLayout {
  /** Cached lookups; a string is the reason a path does not exist. */
  private readonly cache = new Map<string, FieldLayout | string>()

  constructor(private readonly resolver: BtfResolver, readonly id: number, readonly name: string,
    readonly sizeBytes: number, readonly kind: 'struct' | 'union') {}

  /** How errors name this type: "struct task_struct", or "struct (anonymous, id 42)". */
  get title(): string {
    return `${this.kind} ${this.name === '' ? `(anonymous, id ${this.id})` : this.name}`
  }

  field(path: string): FieldLayout {
    const result = this.lookup(path)
    if (typeof result === 'string') throw new MemweaveError('os', 'not_found', result)
    return result
  }

  has(path: string): boolean {
    return typeof this.lookup(path) !== 'string'
  }

  firstField(...paths: string[]): FieldLayout {
    for (const path of paths) {
      const result = this.lookup(path)
      if (typeof result !== 'string') return result
    }
    throw new MemweaveError('os', 'not_found', `${this.title} has none of the fields ${paths.map((p) => `'${p}'`).join(', ')}`)
  }

  private lookup(path: string): FieldLayout | string {
    let result = this.cache.get(path)
    if (result === undefined) {
      result = this.resolve(path)
      this.cache.set(path, result)
    }
    return result
  }

  private resolve(path: string): FieldLayout | string {
    const missing = `${this.title} has no field '${path}'`
    const segments = path.split('.')
    let compositeId = this.id
    let found: Found | undefined
    let walked = ''
    for (const segment of segments) {
      if (segment === '') return missing
      if (found !== undefined) {
        if (found.bitSize !== 0) return `${missing} ('${walked}' is a bitfield)`
        const inner = this.resolver.strip(found.typeId)
        const kind = inner === 0 ? 0 : this.resolver.table.kind(inner)
        if (kind !== BTF_KIND.STRUCT && kind !== BTF_KIND.UNION) {
          const what = kind === BTF_KIND.PTR ? 'a pointer, not an embedded struct' : 'not a struct or union'
          return `${missing} ('${walked}' is ${what})`
        }
        compositeId = inner
      }
      const member = this.resolver.flatMembers(compositeId).get(segment)
      if (member === undefined) return missing
      found = { typeId: member.typeId, bitOffset: (found?.bitOffset ?? 0) + member.bitOffset, bitSize: member.bitSize }
      walked = walked === '' ? segment : `${walked}.${segment}`
    }
    if (found === undefined) return missing
    return this.toField(path, found)
  }

  private toField(path: string, found: Found): FieldLayout {
    const resolver = this.resolver
    const type = resolver.typeInfo(found.typeId)
    let bits = found.bitOffset
    let bitSize = found.bitSize
    if (bitSize === 0) {
      // Without kind_flag, a bitfield is an INT whose encoding carries the bit offset and width.
      const inner = resolver.strip(found.typeId)
      if (inner !== 0 && resolver.table.kind(inner) === BTF_KIND.INT) {
        const encoding = resolver.table.u32(inner, 0)
        const intBits = encoding & 0xff
        const intOffset = (encoding >>> 16) & 0xff
        if (intOffset !== 0 || intBits !== resolver.table.sizeOrType(inner) * 8) {
          bits += intOffset
          bitSize = intBits
        }
      }
    }
    if (bitSize === 0 && bits % 8 !== 0) bitSize = resolver.sizeOf(found.typeId) * 8
    const offsetBytes = Math.floor(bits / 8)
    if (bitSize === 0) return { path, offsetBytes, sizeBytes: resolver.sizeOf(found.typeId), type }
    const bitOffset = bits % 8
    return { path, offsetBytes, sizeBytes: Math.ceil((bitOffset + bitSize) / 8), bitOffset, bitSize, type }
  }
}
