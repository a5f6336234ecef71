/**
 * @module os/linux/btf
 * Structure layouts from the guest kernel's own BTF, so the Linux layer
 * needs no symbol files and no hard-coded offsets.
 *
 *   .BTF blob ──parseBtf──▶ Btf ──struct('task_struct')──▶ StructLayout
 *                                                          │ field('tasks') → offset, size, type
 *   mem.read([...]) ◀──readStructs(mem, addrs, layout)─────┘
 *                   ──▶ StructView per address: u32('pid'), ptr('mm'), cstring('comm'), bits(...)
 *
 * Parsing walks the type section once; names, members and types are decoded
 * on first use. Broken blobs throw os/malformed with the offending offset.
 */
export { parseBtf, Btf } from './btf.js'
export type { BtfParseOptions } from './btf-table.js'
export type {
  ArrayTypeInfo, CompositeTypeInfo, EnumTypeInfo, FieldLayout, IntTypeInfo, OtherTypeInfo, PtrTypeInfo, StructLayout, TypeInfo,
} from './btf-types.js'
export { StructView, readStruct, readStructs } from './struct-view.js'
export { BtfBuilder } from './btf-builder.js'
