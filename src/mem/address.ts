/**
 * Branded address types. Physical and virtual addresses are both bigints, but
 * mixing them up is the classic introspection bug, so the brands keep them
 * apart at module boundaries.
 */
declare const physBrand: unique symbol
declare const virtBrand: unique symbol

export type PhysAddr = bigint & { readonly [physBrand]: true }
export type VirtAddr = bigint & { readonly [virtBrand]: true }

export function physAddr(value: bigint | number): PhysAddr {
  return BigInt(value) as PhysAddr
}

export function virtAddr(value: bigint | number): VirtAddr {
  return BigInt(value) as VirtAddr
}

export function hex(value: bigint | number): string {
  return `0x${value.toString(16)}`
}
