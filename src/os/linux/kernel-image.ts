/**
 * A copy of the kernel image's virtual range in one buffer: the mapped runs
 * of [_text, _end) read with one batched physical read straight into that
 * buffer (readInto: no second copy of the image, which is tens of MiB). The
 * kallsyms search scans it; unmapped holes read as zeros.
 */
import type { PhysAddr, PhysicalMemory } from '../../mem/index.js'
import { hex, physAddr, readInto } from '../../mem/index.js'
import { MemweaveError } from '../../errors/index.js'

export interface ImageRun {
  readonly virt: bigint
  readonly phys: bigint
  readonly sizeBytes: bigint
}

export interface KernelImage {
  /** Virtual address of the first byte (the kernel's _text under KASLR). */
  readonly base: bigint
  readonly bytes: Uint8Array
  readonly view: DataView
  /** Bytes actually read (holes excluded). */
  readonly mappedBytes: number
  /** Physical reads that failed (their bytes stay zero). */
  readonly failedReads: number
}

/** Most bytes read for the image; real kernels are far smaller than the 1 GiB text window. */
export const MAX_IMAGE_BYTES = 192 * 1024 * 1024
const READ_CHUNK_BYTES = 16 * 1024 * 1024

export async function readKernelImage(mem: PhysicalMemory, runs: readonly ImageRun[]): Promise<KernelImage> {
  const first = runs[0]
  if (first === undefined) throw new MemweaveError('os', 'not_found', 'kernel image: no mapped pages to read')
  const base = first.virt
  const last = runs[runs.length - 1] ?? first
  const spanBytes = Number(last.virt + last.sizeBytes - base)
  const totalBytes = Math.min(spanBytes, MAX_IMAGE_BYTES)
  const bytes = new Uint8Array(totalBytes)
  const pieces: { addr: PhysAddr; length: number; at: number }[] = []
  for (const run of runs) {
    const at = Number(run.virt - base)
    const length = Math.min(Number(run.sizeBytes), totalBytes - at)
    for (let done = 0; done < length; done += READ_CHUNK_BYTES) {
      pieces.push({ addr: physAddr(run.phys + BigInt(done)), length: Math.min(READ_CHUNK_BYTES, length - done), at: at + done })
    }
  }
  const results = await readInto(mem, pieces, bytes)
  let mappedBytes = 0
  let failed = 0
  results.forEach((result, i) => {
    const piece = pieces[i]
    if (piece === undefined) return
    // A failed piece may have left part of its bytes written: the hole stays zeros, as documented.
    if (result.ok) mappedBytes += result.length
    else { bytes.fill(0, piece.at, piece.at + piece.length); failed++ }
  })
  if (mappedBytes === 0) {
    throw new MemweaveError('os', 'io', `kernel image at ${hex(base)}: none of ${pieces.length} physical reads succeeded (truncated dump?)`)
  }
  return { base, bytes, view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), mappedBytes, failedReads: failed }
}
