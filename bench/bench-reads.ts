/**
 * What the read benches share: the sources they read (a big file of random
 * bytes on disk, memory that copies on read) and the timing of a run of reads
 * through a client.
 */
import { randomFillSync } from 'node:crypto'
import { open, stat } from 'node:fs/promises'
import { MemweaveError } from '../src/errors/index.js'
import type { MemMetadata, MemoryView, PieceResult, ReadPiece, WriteResult } from '../src/mem/index.js'
import type { TreeClient } from '../src/net/index.js'

/** Makes `path` a file of at least `size` random bytes (one left from an earlier run is kept). */
export async function ensureFile(path: string, size: number): Promise<void> {
  const existing = await stat(path).catch(() => undefined) // absent: made below
  if (existing !== undefined && existing.size >= size) return
  const handle = await open(path, 'w')
  const chunk = new Uint8Array(16 << 20)
  for (let at = 0; at < size; at += chunk.length) { randomFillSync(chunk); await handle.write(chunk, 0, chunk.length, at) }
  await handle.close()
}

/** Reads copy out of a buffer, as a real source hands out fresh bytes. */
export class CopyingMemory implements MemoryView {
  constructor(private readonly bytes: Uint8Array) {}
  async read(pieces: readonly ReadPiece[]): Promise<PieceResult[]> {
    return pieces.map((p) => ({ ok: true, data: Buffer.from(this.bytes.subarray(Number(p.addr), Number(p.addr) + p.length)) }))
  }
  async write(): Promise<WriteResult[]> { throw new MemweaveError('mem', 'unsupported', 'read-only') }
  metadata(): MemMetadata { return { maxAddress: BigInt(this.bytes.length), idealBatchSize: 64, readonly: true, volatile: false } }
}

/**
 * `count` reads of `length` bytes from `path` (a source of `size` bytes) with `depth` in flight,
 * after a warm-up of up to 20; returns microseconds per read.
 */
export async function measureReads(client: TreeClient, path: string, size: number, length: number, count: number, depth: number): Promise<number> {
  const { handle } = await client.open(path)
  const span = size - length
  const one = async (i: number): Promise<void> => {
    const [r] = await client.read(handle, [{ addr: BigInt((i * 4096 * 7) % span), length }])
    if (r === undefined || !r.ok || r.data.length !== length) throw new Error(`bad read in benchmark: ${r !== undefined && !r.ok ? r.error.message : 'short'}`)
  }
  for (let i = 0; i < Math.min(count, 20); i++) await one(i) // warm-up
  let next = 0
  const worker = async (): Promise<void> => { while (next < count) await one(next++) }
  const start = performance.now()
  await Promise.all(Array.from({ length: depth }, worker))
  const micros = ((performance.now() - start) * 1000) / count
  await client.close(handle)
  return micros
}
