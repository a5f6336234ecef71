/**
 * The public shapes of the layout API: what a type is (TypeInfo), where a
 * field sits (FieldLayout) and how to look fields up in a struct
 * (StructLayout). Typedefs and qualifiers (const, volatile, restrict,
 * type tags) are always resolved through, so callers only see these kinds.
 */

export interface IntTypeInfo {
  readonly kind: 'int'
  readonly name: string
  readonly sizeBytes: number
  readonly signed: boolean
}

export interface PtrTypeInfo {
  readonly kind: 'ptr'
  /** Resolved on first access. 'unresolved' when the target is only forward-declared or its id is broken. */
  readonly target: TypeInfo | 'void' | 'unresolved'
}

export interface ArrayTypeInfo {
  readonly kind: 'array'
  readonly element: TypeInfo
  readonly count: number
  readonly sizeBytes: number
}

export interface CompositeTypeInfo {
  readonly kind: 'struct' | 'union'
  /** '' for an anonymous struct or union. */
  readonly name: string
  readonly sizeBytes: number
  /** The struct's own layout, built on first access (also works for anonymous ones). */
  readonly layout: StructLayout
}

export interface EnumTypeInfo {
  readonly kind: 'enum'
  readonly name: string
  readonly sizeBytes: number
  readonly signed: boolean
}

/** Floats, function prototypes, undefined forward declarations and void. */
export interface OtherTypeInfo {
  readonly kind: 'other'
  readonly name: string
  readonly sizeBytes: number
}

export type TypeInfo = IntTypeInfo | PtrTypeInfo | ArrayTypeInfo | CompositeTypeInfo | EnumTypeInfo | OtherTypeInfo

export interface FieldLayout {
  readonly path: string
  readonly offsetBytes: number
  /** Size of the field's type; for a bitfield, the number of bytes its bits span from offsetBytes. */
  readonly sizeBytes: number
  /** Set for bitfields: bit offset within the byte at offsetBytes (0..7), and width in bits. */
  readonly bitOffset?: number
  readonly bitSize?: number
  readonly type: TypeInfo
}

export interface StructLayout {
  readonly name: string
  readonly sizeBytes: number
  readonly kind: 'struct' | 'union'
  /**
   * Field by dotted path through embedded (not pointed-to) structs and unions,
   * searching anonymous members transparently: 'tasks', 'mm_mt.ma_root',
   * 'thread.sp'. Throws os/not_found "struct task_struct has no field 'x'".
   */
  field(path: string): FieldLayout
  has(path: string): boolean
  /** The first of several candidate paths that exists (fields get renamed across kernel versions). */
  firstField(...paths: string[]): FieldLayout
}
