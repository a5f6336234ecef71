/**
 * What every part of the Linux layer needs once the kernel is open: the
 * physical memory, the kernel address space, symbols, BTF layouts and the
 * direct-map base (page_offset_base, randomized under RANDOMIZE_MEMORY).
 */
import type { PageTableCache, PagingMode, VirtualAddressSpace } from '../../arch/index.js'
import { MemweaveError } from '../../errors/index.js'
import { hex, physAddr } from '../../mem/index.js'
import type { PhysAddr, PhysicalMemory } from '../../mem/index.js'
import type { Btf } from './btf/index.js'
import type { SymbolTable } from './symbol-table.js'

export interface KernelContext {
  readonly mem: PhysicalMemory
  readonly kmem: VirtualAddressSpace
  readonly mode: PagingMode
  readonly dtb: PhysAddr
  readonly symbols: SymbolTable
  readonly btf: Btf
  readonly directMapBase: bigint
  /** Physical address the direct map starts at (arm64 PHYS_OFFSET); 0 when absent (x86-64). */
  readonly directMapPhys?: bigint
  /** Page-table pages shared by every address space of this kernel. */
  readonly tableCache: PageTableCache
}

/** The direct map covers at most 64 TiB (4-level) / 32 PiB (5-level); beyond that a pointer is not direct-mapped. */
const DIRECT_MAP_SPAN_4LEVEL = 1n << 46n
const DIRECT_MAP_SPAN_5LEVEL = 1n << 55n

/** Physical address of a direct-map virtual address (a pgd pointer, a page of a slab object). */
export function directMapToPhys(kernel: KernelContext, virt: bigint, what: string): PhysAddr {
  const span = kernel.mode.virtualBits > 48 ? DIRECT_MAP_SPAN_5LEVEL : DIRECT_MAP_SPAN_4LEVEL
  const offset = virt - kernel.directMapBase
  if (offset < 0n || offset >= span) {
    throw new MemweaveError('os', 'malformed', `${what} ${hex(virt)} is not in the direct map at ${hex(kernel.directMapBase)}`)
  }
  return physAddr(offset + (kernel.directMapPhys ?? 0n))
}

/** Lowest kernel-half address (4-level); pointers below it are not kernel pointers. */
export const KERNEL_HALF_START = 0xffff800000000000n
const KERNEL_HALF_START_5LEVEL = 0xff00000000000000n

/** A plausible pointer to a kernel object: canonical upper half and 8-byte aligned. */
export function isKernelPointer(kernel: KernelContext, value: bigint): boolean {
  return isKernelAddress(kernel, value) && (value & 7n) === 0n
}

/** Any kernel-half address (strings, bytes: no alignment). */
export function isKernelAddress(kernel: KernelContext, value: bigint): boolean {
  // split-root (arm64) kernels own the whole TTBR1 half: -(2^VA_BITS) up, linear map included
  const low = kernel.mode.splitRoots === true ? (1n << 64n) - (1n << BigInt(kernel.mode.virtualBits))
    : kernel.mode.virtualBits > 48 ? KERNEL_HALF_START_5LEVEL : KERNEL_HALF_START
  return value >= low && value < 1n << 64n
}

/** An AArch64 guest (TTBR0/TTBR1 split roots); x86-64 otherwise. */
export function isArm64Kernel(kernel: KernelContext): boolean {
  return kernel.mode.splitRoots === true
}

const TOP_BYTE = 0xff00000000000000n
const BIT_55 = 1n << 55n

/**
 * A kernel pointer as the kernel dereferences it: on arm64 the top byte may
 * carry a tag (KASAN tag-based modes; TBI1 ignores it), which the kernel's
 * untagged_addr() resets by sign-extending bit 55. x86-64 pointers are unchanged.
 */
export function untagKernelPointer(kernel: KernelContext, value: bigint): bigint {
  if (!isArm64Kernel(kernel) || (value & BIT_55) === 0n) return value
  return value | TOP_BYTE
}
