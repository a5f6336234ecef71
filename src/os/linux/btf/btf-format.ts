/**
 * The BTF wire format as constants: header layout, the numbered type kinds,
 * and how many bytes of extra data follow each kind's 12-byte common header.
 * Little-endian only (every x86-64 kernel writes it that way).
 */

export const BTF_MAGIC = 0xeb9f
/** The same magic read with the wrong byte order: a big-endian blob. */
export const BTF_MAGIC_SWAPPED = 0x9feb
export const BTF_VERSION = 1
/** Fixed part of the header; hdr_len may be larger (newer kernels append fields). */
export const BTF_HEADER_BYTES = 24
/** Every type starts with name_off, info, size-or-type: three u32. */
export const BTF_TYPE_BYTES = 12
/** The kernel's own ceiling on type ids (BTF_MAX_TYPE). */
export const BTF_MAX_TYPES = 0xfffff

export const BTF_KIND = {
  INT: 1,
  PTR: 2,
  ARRAY: 3,
  STRUCT: 4,
  UNION: 5,
  ENUM: 6,
  FWD: 7,
  TYPEDEF: 8,
  VOLATILE: 9,
  CONST: 10,
  RESTRICT: 11,
  FUNC: 12,
  FUNC_PROTO: 13,
  VAR: 14,
  DATASEC: 15,
  FLOAT: 16,
  DECL_TAG: 17,
  TYPE_TAG: 18,
  ENUM64: 19,
} as const

export type BtfKindName = keyof typeof BTF_KIND

const KIND_NAMES: readonly string[] = (() => {
  const names: string[] = []
  for (const [name, code] of Object.entries(BTF_KIND)) names[code] = name
  return names
})()

export function kindName(kind: number): string {
  return KIND_NAMES[kind] ?? `kind ${kind}`
}

/** INT encoding bits (the u32 after an INT type). */
export const BTF_INT_SIGNED = 1

/**
 * Bytes of kind-specific data after the common header, or -1 for a kind this
 * parser does not know (its length cannot be guessed, so parsing must stop).
 */
export function extraBytes(kind: number, vlen: number): number {
  switch (kind) {
    case BTF_KIND.INT: return 4
    case BTF_KIND.ARRAY: return 12
    case BTF_KIND.STRUCT: case BTF_KIND.UNION: return vlen * 12
    case BTF_KIND.ENUM: return vlen * 8
    case BTF_KIND.FUNC_PROTO: return vlen * 8
    case BTF_KIND.VAR: return 4
    case BTF_KIND.DATASEC: return vlen * 12
    case BTF_KIND.DECL_TAG: return 4
    case BTF_KIND.ENUM64: return vlen * 12
    case BTF_KIND.PTR: case BTF_KIND.FWD: case BTF_KIND.TYPEDEF: case BTF_KIND.VOLATILE:
    case BTF_KIND.CONST: case BTF_KIND.RESTRICT: case BTF_KIND.FUNC: case BTF_KIND.FLOAT:
    case BTF_KIND.TYPE_TAG:
      return 0
    default: return -1
  }
}

/** Kinds whose names go in the name index (functions and variables are left out: lookups never need them). */
export function isIndexedKind(kind: number): boolean {
  switch (kind) {
    case BTF_KIND.INT: case BTF_KIND.STRUCT: case BTF_KIND.UNION: case BTF_KIND.ENUM: case BTF_KIND.FWD:
    case BTF_KIND.TYPEDEF: case BTF_KIND.FLOAT: case BTF_KIND.ENUM64:
      return true
    default: return false
  }
}

/** Kinds that only qualify or rename another type: resolved through when asking what a type is. */
export function isModifierKind(kind: number): boolean {
  switch (kind) {
    case BTF_KIND.TYPEDEF: case BTF_KIND.VOLATILE: case BTF_KIND.CONST: case BTF_KIND.RESTRICT: case BTF_KIND.TYPE_TAG:
      return true
    default: return false
  }
}
