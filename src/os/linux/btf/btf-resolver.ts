/**
 * Type resolution over the raw table: following typedef/qualifier chains
 * (with cycle detection), sizes, TypeInfo objects, struct members and the
 * name index. Everything is computed on first use and cached by type id, so
 * parsing stays one pass and only the types a caller touches are decoded.
 */
import { MemweaveError } from '../../../errors/index.js'
import { BTF_INT_SIGNED, BTF_KIND, isIndexedKind, isModifierKind, kindName } from './btf-format.js'
import type { BtfTable } from './btf-table.js'
import { malformed } from './btf-table.js'
import type { CompositeTypeInfo, StructLayout, TypeInfo } from './btf-types.js'
import { CompositeLayout } from './struct-layout.js'

/** Longest typedef/qualifier chain or array nesting followed before calling the blob cyclic. */
const MAX_DEPTH = 64
/** x86-64 guests: BTF does not record pointer width. */
const POINTER_BYTES = 8

export interface Member {
  readonly name: string
  readonly typeId: number
  /** Offset from the start of the containing struct, in bits. */
  readonly bitOffset: number
  /** Width of a kind_flag bitfield; 0 for ordinary members. */
  readonly bitSize: number
}

/** Where a name reachable from a struct sits: its own member or one inside anonymous members. */
export interface FlatMember {
  readonly typeId: number
  readonly bitOffset: number
  readonly bitSize: number
}

/** How deep anonymous structs may nest inside each other before the blob is called cyclic. */
const MAX_ANON_DEPTH = 32

export class BtfResolver {
  private readonly infos = new Map<number, TypeInfo>()
  private readonly memberLists = new Map<number, readonly Member[]>()
  private readonly layouts = new Map<number, CompositeLayout>()
  private readonly flatIndexes = new Map<number, ReadonlyMap<string, FlatMember>>()
  private readonly flattening = new Set<number>()
  private nameIndex: Map<string, number[]> | undefined

  constructor(readonly table: BtfTable) {}

  /** Follows typedef/const/volatile/restrict/type_tag to the underlying type id (0 = void). */
  strip(id: number): number {
    let current = id
    const seen: number[] = []
    while (current !== 0) {
      this.table.check(current, seen.length === 0 ? 'a lookup' : `type ${seen[seen.length - 1] ?? 0}`)
      if (!isModifierKind(this.table.kind(current))) return current
      if (seen.includes(current)) throw malformed(`type reference cycle through ids ${[...seen, current].join(' -> ')}`)
      if (seen.length >= MAX_DEPTH) throw malformed(`typedef/qualifier chain from type ${id} is longer than ${MAX_DEPTH}`)
      seen.push(current)
      current = this.table.sizeOrType(current)
    }
    return 0
  }

  sizeOf(id: number, depth = 0): number {
    if (depth > MAX_DEPTH) throw malformed(`type ${id}: array/type nesting deeper than ${MAX_DEPTH} (reference cycle?)`)
    const target = this.strip(id)
    if (target === 0) return 0
    const table = this.table
    switch (table.kind(target)) {
      case BTF_KIND.INT: case BTF_KIND.STRUCT: case BTF_KIND.UNION: case BTF_KIND.ENUM: case BTF_KIND.ENUM64:
      case BTF_KIND.FLOAT: case BTF_KIND.DATASEC:
        return table.sizeOrType(target)
      case BTF_KIND.PTR: return POINTER_BYTES
      case BTF_KIND.ARRAY: {
        const element = table.u32(target, 0)
        if (element !== 0) table.check(element, `array type ${target}`)
        const size = this.sizeOf(element, depth + 1) * table.u32(target, 2)
        if (size > 0xffffffff) throw malformed(`array type ${target} is ${size} bytes, more than 4 GiB`)
        return size
      }
      case BTF_KIND.VAR: return this.sizeOf(table.sizeOrType(target), depth + 1)
      default: return 0
    }
  }

  typeInfo(id: number, depth = 0): TypeInfo {
    const cached = this.infos.get(id)
    if (cached !== undefined) return cached
    if (depth > MAX_DEPTH) throw malformed(`type ${id}: array nesting deeper than ${MAX_DEPTH} (reference cycle?)`)
    const info = this.buildInfo(id, depth)
    this.infos.set(id, info)
    return info
  }

  private buildInfo(id: number, depth: number): TypeInfo {
    const target = this.strip(id)
    if (target === 0) return { kind: 'other', name: 'void', sizeBytes: 0 }
    const table = this.table
    const kind = table.kind(target)
    switch (kind) {
      case BTF_KIND.INT:
        return { kind: 'int', name: table.name(target), sizeBytes: table.sizeOrType(target), signed: (table.u32(target, 0) >>> 24 & BTF_INT_SIGNED) !== 0 }
      case BTF_KIND.PTR: return this.pointerInfo(target)
      case BTF_KIND.ARRAY: {
        const element = table.u32(target, 0)
        if (element !== 0) table.check(element, `array type ${target}`)
        return { kind: 'array', element: this.typeInfo(element, depth + 1), count: table.u32(target, 2), sizeBytes: this.sizeOf(target) }
      }
      case BTF_KIND.STRUCT: case BTF_KIND.UNION: return this.compositeInfo(target)
      case BTF_KIND.ENUM: case BTF_KIND.ENUM64:
        return { kind: 'enum', name: table.name(target), sizeBytes: table.sizeOrType(target), signed: table.kindFlag(target) }
      case BTF_KIND.FLOAT: return { kind: 'other', name: table.name(target), sizeBytes: table.sizeOrType(target) }
      case BTF_KIND.FWD: return { kind: 'other', name: `${table.kindFlag(target) ? 'union' : 'struct'} ${table.name(target)}`, sizeBytes: 0 }
      default: return { kind: 'other', name: kindName(kind).toLowerCase(), sizeBytes: 0 }
    }
  }

  private pointerInfo(ptrId: number): TypeInfo {
    let target: TypeInfo | 'void' | 'unresolved' | undefined
    const resolve = (): TypeInfo | 'void' | 'unresolved' => {
      const targetId = this.table.sizeOrType(ptrId)
      if (targetId === 0) return 'void'
      try {
        const stripped = this.strip(targetId)
        if (stripped === 0) return 'void'
        const definition = this.table.kind(stripped) === BTF_KIND.FWD ? this.definitionOf(stripped) : stripped
        return definition === undefined ? 'unresolved' : this.typeInfo(definition)
      } catch (err) {
        // A getter must not throw on a broken target: the pointer itself is still usable as an address.
        if (err instanceof MemweaveError && err.kind === 'malformed') return 'unresolved'
        throw err
      }
    }
    return { kind: 'ptr', get target() { target ??= resolve(); return target } }
  }

  private compositeInfo(id: number): CompositeTypeInfo {
    const layoutOf = (): StructLayout => this.layoutOf(id)
    const kind = this.table.kind(id) === BTF_KIND.UNION ? 'union' : 'struct'
    return { kind, name: this.table.name(id), sizeBytes: this.table.sizeOrType(id), get layout(): StructLayout { return layoutOf() } }
  }

  /** The complete struct/union a forward declaration stands for, if the blob has one. */
  private definitionOf(fwdId: number): number | undefined {
    const wanted = this.table.kindFlag(fwdId) ? BTF_KIND.UNION : BTF_KIND.STRUCT
    return this.idsByName(this.table.name(fwdId)).find((candidate) => this.table.kind(candidate) === wanted)
  }

  layoutOf(id: number): CompositeLayout {
    let layout = this.layouts.get(id)
    if (layout === undefined) {
      const kind = this.table.kind(id)
      if (kind !== BTF_KIND.STRUCT && kind !== BTF_KIND.UNION) throw malformed(`type ${id} is ${kindName(kind)}, not a struct or union`)
      layout = new CompositeLayout(this, id, this.table.name(id), this.table.sizeOrType(id), kind === BTF_KIND.UNION ? 'union' : 'struct')
      this.layouts.set(id, layout)
    }
    return layout
  }

  members(id: number): readonly Member[] {
    let list = this.memberLists.get(id)
    if (list !== undefined) return list
    const table = this.table
    const bitfields = table.kindFlag(id)
    const decoded: Member[] = []
    for (let i = 0; i < table.vlen(id); i++) {
      const name = table.string(table.u32(id, i * 3), `member ${i} of type ${id}`)
      const typeId = table.u32(id, i * 3 + 1)
      table.check(typeId, `member '${name}' of type ${id}`)
      const raw = table.u32(id, i * 3 + 2)
      decoded.push(bitfields
        ? { name, typeId, bitOffset: raw & 0xffffff, bitSize: raw >>> 24 }
        : { name, typeId, bitOffset: raw, bitSize: 0 })
    }
    list = decoded
    this.memberLists.set(id, list)
    return list
  }

  /**
   * Every name a struct answers to, with anonymous members opened up (as C
   * does), built once per struct so a wide tree of anonymous members costs
   * its size, not the number of paths through it. Own members win over
   * anonymous ones; C keeps the names unique anyway.
   */
  flatMembers(id: number): ReadonlyMap<string, FlatMember> {
    const cached = this.flatIndexes.get(id)
    if (cached !== undefined) return cached
    if (this.flattening.has(id)) throw malformed(`struct/union type ${id} contains itself through anonymous members`)
    if (this.flattening.size >= MAX_ANON_DEPTH) throw malformed(`anonymous members of type ${id} nest deeper than ${MAX_ANON_DEPTH}`)
    this.flattening.add(id)
    try {
      const index = new Map<string, FlatMember>()
      const anonymous: Member[] = []
      for (const member of this.members(id)) {
        if (member.name === '') anonymous.push(member)
        else if (!index.has(member.name)) index.set(member.name, member)
      }
      for (const member of anonymous) {
        const inner = this.strip(member.typeId)
        const kind = inner === 0 ? 0 : this.table.kind(inner)
        if (kind !== BTF_KIND.STRUCT && kind !== BTF_KIND.UNION) continue
        for (const [name, found] of this.flatMembers(inner)) {
          if (!index.has(name)) index.set(name, { typeId: found.typeId, bitOffset: member.bitOffset + found.bitOffset, bitSize: found.bitSize })
        }
      }
      this.flatIndexes.set(id, index)
      return index
    } finally {
      this.flattening.delete(id)
    }
  }

  /** Ids of named structs, unions, enums, typedefs, ints, floats and forward declarations with this name. */
  idsByName(name: string): readonly number[] {
    if (this.nameIndex === undefined) this.nameIndex = this.buildNameIndex()
    return this.nameIndex.get(name) ?? []
  }

  private buildNameIndex(): Map<string, number[]> {
    const index = new Map<string, number[]>()
    const table = this.table
    for (let id = 1; id <= table.typeCount; id++) {
      if (!isIndexedKind(table.kind(id))) continue
      const nameOff = table.nameOff(id)
      if (nameOff === 0) continue
      const name = table.string(nameOff, `type ${id}`)
      const ids = index.get(name)
      if (ids === undefined) index.set(name, [id])
      else ids.push(id)
    }
    return index
  }
}
