/**
 * The kernel's own BTF: the .BTF section between the kallsyms symbols
 * __start_BTF and __stop_BTF (a few MiB of read-only data inside the image),
 * taken from the image copy already in hand or read in one batch otherwise.
 */
import { MemweaveError } from '../../errors/index.js'
import { hex, readExact, virtAddr } from '../../mem/index.js'
import type { VirtualMemory } from '../../mem/index.js'
import { parseBtf } from './btf/index.js'
import type { Btf } from './btf/index.js'
import type { KernelImage } from './kernel-image.js'
import type { SymbolTable } from './symbol-table.js'

/** The kernel refuses BTF above this size too (BTF_MAX_SIZE is 16 MiB). */
const MAX_BTF_BYTES = 64 * 1024 * 1024

export interface KernelBtf {
  readonly btf: Btf
  readonly start: bigint
  readonly sizeBytes: number
}

export async function loadKernelBtf(symbols: SymbolTable, image: KernelImage | undefined, kmem: VirtualMemory): Promise<KernelBtf> {
  const start = symbols.get('__start_BTF')?.addr
  const stop = symbols.get('__stop_BTF')?.addr
  if (start === undefined || stop === undefined) {
    throw new MemweaveError('os', 'not_found', `BTF: symbols __start_BTF/__stop_BTF missing from ${symbols.source} (kernel built without CONFIG_DEBUG_INFO_BTF?)`)
  }
  const size = Number(stop - start)
  if (stop <= start || size > MAX_BTF_BYTES) {
    throw new MemweaveError('os', 'malformed', `BTF: __start_BTF ${hex(start)} .. __stop_BTF ${hex(stop)} is not a plausible section (${size} bytes)`)
  }
  let bytes: Uint8Array
  if (image !== undefined && start >= image.base && stop <= image.base + BigInt(image.bytes.length)) {
    const at = Number(start - image.base)
    // A copy, so the image buffer can be dropped after open.
    bytes = image.bytes.slice(at, at + size)
  } else {
    try {
      bytes = await readExact(kmem, virtAddr(start), size)
    } catch (err) {
      throw new MemweaveError('os', 'io', `BTF: cannot read ${size} bytes at ${hex(start)}`, { cause: err })
    }
  }
  try {
    return { btf: parseBtf(bytes), start, sizeBytes: size }
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err)
    throw new MemweaveError('os', 'malformed', `BTF at ${hex(start)} (${size} bytes) does not parse: ${reason}`, { cause: err })
  }
}
