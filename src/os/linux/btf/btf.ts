/**
 * The Btf facade: parseBtf() and name-based lookups of structs, enums and
 * sizes. Parsing walks the type section once; the name index, members and
 * type infos are built on first use (see btf-resolver.ts).
 */
import { MemweaveError } from '../../../errors/index.js'
import { BTF_KIND } from './btf-format.js'
import { BtfResolver } from './btf-resolver.js'
import { BtfTable } from './btf-table.js'
import type { BtfParseOptions } from './btf-table.js'
import type { StructLayout, TypeInfo } from './btf-types.js'

/** Parses a raw little-endian BTF blob. Throws os/malformed (with the offending offset) on a broken blob. */
export function parseBtf(bytes: Uint8Array, options?: BtfParseOptions): Btf {
  return new Btf(BtfTable.parse(bytes, options))
}

export class Btf {
  readonly typeCount: number
  private readonly resolver: BtfResolver
  private allEnumIds: number[] | undefined
  private readonly enumCache = new Map<number, Map<string, bigint>>()

  /** Use parseBtf(). */
  constructor(table: BtfTable) {
    this.typeCount = table.typeCount
    this.resolver = new BtfResolver(table)
  }

  /**
   * Struct or union by name ('task_struct'; 'struct x' / 'union x' pick the
   * kind), resolving typedefs to structs too. When a name has several
   * definitions, the first in the blob wins.
   */
  struct(name: string): StructLayout {
    const id = this.structId(name)
    if (id === undefined) throw new MemweaveError('os', 'not_found', `BTF has no struct '${name}'`)
    return this.resolver.layoutOf(id)
  }

  hasStruct(name: string): boolean {
    return this.structId(name) !== undefined
  }

  /**
   * Value of an enumerator, e.g. enumValue('maple_type', 'maple_leaf_64').
   * enumName may be a typedef of an enum; '' searches every enum, anonymous
   * ones included (many kernel constants live in anonymous enums).
   */
  enumValue(enumName: string, enumerator: string): bigint {
    const ids = this.enumIds(enumName)
    if (ids.length === 0) throw new MemweaveError('os', 'not_found', `BTF has no enum '${enumName}'`)
    for (const id of ids) {
      const value = this.enumerators(id).get(enumerator)
      if (value !== undefined) return value
    }
    const where = enumName === '' ? 'no enum in BTF has' : `enum ${enumName} has no`
    throw new MemweaveError('os', 'not_found', `${where} enumerator '${enumerator}'`)
  }

  /** Every enumerator of a named enum, in declaration order. */
  enumValues(enumName: string): ReadonlyMap<string, bigint> {
    const [id] = enumName === '' ? [] : this.enumIds(enumName)
    if (id === undefined) throw new MemweaveError('os', 'not_found', `BTF has no enum '${enumName}'`)
    return this.enumerators(id)
  }

  /** Size in bytes of a named struct, union, typedef, int, float or enum. */
  sizeOf(name: string): number {
    if (/^(struct|union) /.test(name)) return this.struct(name).sizeBytes
    const id = this.namedTypeId(name)
    if (id === undefined) throw new MemweaveError('os', 'not_found', `BTF has no type '${name}'`)
    return this.resolver.sizeOf(id)
  }

  /** What a named type is, typedefs resolved ('pid_t' → int). */
  type(name: string): TypeInfo {
    const id = /^(struct|union) /.test(name) ? this.structId(name) : this.namedTypeId(name)
    if (id === undefined) throw new MemweaveError('os', 'not_found', `BTF has no type '${name}'`)
    return this.resolver.typeInfo(id)
  }

  private structId(name: string): number | undefined {
    const match = /^(struct|union) (.*)$/.exec(name)
    const bare = match?.[2] ?? name
    const wanted = match?.[1] === 'union' ? [BTF_KIND.UNION] : match?.[1] === 'struct' ? [BTF_KIND.STRUCT] : [BTF_KIND.STRUCT, BTF_KIND.UNION]
    const table = this.resolver.table
    const ids = this.resolver.idsByName(bare)
    const direct = ids.find((id) => wanted.some((kind) => kind === table.kind(id)))
    if (direct !== undefined || match !== null) return direct
    for (const id of ids) {
      if (table.kind(id) !== BTF_KIND.TYPEDEF) continue
      const target = this.resolver.strip(id)
      if (target !== 0 && wanted.some((kind) => kind === table.kind(target))) return target
    }
    return undefined
  }

  /** A named type by preference: struct/union, typedef, int/float, enum (forward declarations never). */
  private namedTypeId(name: string): number | undefined {
    const table = this.resolver.table
    const ids = this.resolver.idsByName(name)
    const ranks = [[BTF_KIND.STRUCT, BTF_KIND.UNION], [BTF_KIND.TYPEDEF], [BTF_KIND.INT, BTF_KIND.FLOAT], [BTF_KIND.ENUM, BTF_KIND.ENUM64]]
    for (const kinds of ranks) {
      const id = ids.find((candidate) => kinds.some((kind) => kind === table.kind(candidate)))
      if (id !== undefined) return id
    }
    return undefined
  }

  private enumIds(enumName: string): readonly number[] {
    const table = this.resolver.table
    const isEnum = (id: number): boolean => table.kind(id) === BTF_KIND.ENUM || table.kind(id) === BTF_KIND.ENUM64
    if (enumName === '') {
      this.allEnumIds ??= Array.from({ length: table.typeCount }, (_, i) => i + 1).filter(isEnum)
      return this.allEnumIds
    }
    const ids: number[] = []
    for (const id of this.resolver.idsByName(enumName)) {
      const target = table.kind(id) === BTF_KIND.TYPEDEF ? this.resolver.strip(id) : id
      if (target !== 0 && isEnum(target) && !ids.includes(target)) ids.push(target)
    }
    return ids
  }

  private enumerators(id: number): Map<string, bigint> {
    let values = this.enumCache.get(id)
    if (values === undefined) {
      values = this.decodeEnumerators(id)
      this.enumCache.set(id, values)
    }
    return values
  }

  private decodeEnumerators(id: number): Map<string, bigint> {
    const table = this.resolver.table
    const signed = table.kindFlag(id)
    const wide = table.kind(id) === BTF_KIND.ENUM64
    const values = new Map<string, bigint>()
    const stride = wide ? 3 : 2
    for (let i = 0; i < table.vlen(id); i++) {
      const name = table.string(table.u32(id, i * stride), `enumerator ${i} of type ${id}`)
      let value: bigint
      if (wide) {
        const raw = (BigInt(table.u32(id, i * 3 + 2)) << 32n) | BigInt(table.u32(id, i * 3 + 1))
        value = signed ? BigInt.asIntN(64, raw) : raw
      } else {
        value = BigInt(signed ? table.i32(id, i * 2 + 1) : table.u32(id, i * 2 + 1))
      }
      if (!values.has(name)) values.set(name, value)
    }
    return values
  }
}
