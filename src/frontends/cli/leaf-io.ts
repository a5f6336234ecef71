/**
 * Leaf I/O on a TreeClient for the commands: the shared helpers of
 * net/leaf-io.ts (withLeaf, readText, readJson, callRpc), and here: stream a
 * leaf in 4 MiB pieces (pipelined, into reused buffers) until its size or a
 * short read, read a range piece by piece, write a range.
 */
import { MemweaveError } from '../../errors/index.js'
import { withLeaf } from '../../net/client.js'
import type { PieceResult, ReadIntoResult, TreeClient } from '../../net/client.js'
import { hex } from './numbers.js'

export { callRpc, readJson, readLeaf, readText, withLeaf } from '../../net/client.js'

/** 4 MiB: each request costs both ends about as much CPU as copying 1 MiB, so bigger chunks cut the daemon's CPU per GiB by a third. */
export const CHUNK_BYTES = 4 * 1024 * 1024
/** Chunk reads in flight while streaming: enough to keep the daemon and the socket busy, few enough to stop soon after an error. */
export const STREAM_DEPTH = 4

export interface StreamOptions {
  /** Called once the leaf is open, with its size when known. */
  onOpen?: (sizeBytes: bigint | undefined) => void
  /** Called after each chunk with the bytes so far. */
  onProgress?: (doneBytes: bigint) => void
  /** Stop (with an error) after this many bytes. */
  maxBytes?: number
}

/**
 * Streams a leaf from offset 0 to `sink`: up to its size, or, when the size
 * is unknown, until a piece comes back short. Reads are pipelined: up to
 * STREAM_DEPTH chunks are in flight, each read straight into one of a few
 * reused buffers (readInto), so the daemon, the transport and the sink all
 * work at once and nothing is allocated per chunk. A chunk handed to `sink`
 * is valid only until the sink's promise resolves. A failed piece stops the
 * copy with an error naming the offset. Returns the bytes copied.
 */
export async function streamLeaf(
  client: TreeClient, path: string, sink: (chunk: Uint8Array) => Promise<void>, options: StreamOptions = {},
): Promise<bigint> {
  return withLeaf(client, path, async (opened) => {
    const size = opened.sizeBytes
    options.onOpen?.(size)
    const chunk = BigInt(CHUNK_BYTES)
    // Unknown size (generated text): one at a time, it usually ends within the first chunk.
    const depth = size === undefined ? 1 : Math.max(1, Math.min(STREAM_DEPTH, Number((size + chunk - 1n) / chunk)))
    let next = 0n
    const request = (buffer: Uint8Array): InFlightChunk | undefined => {
      if (size !== undefined && next >= size) return undefined
      const left = size === undefined ? chunk : size - next
      const length = Number(left < chunk ? left : chunk)
      const addr = next
      next += BigInt(length)
      const reading = client.readInto(opened.handle, [{ addr, length, at: 0 }], buffer)
      reading.catch(() => undefined) // awaited below; after an early stop it is only drained
      return { buffer, addr, length, reading }
    }
    const queue: InFlightChunk[] = []
    for (let i = 0; i < depth; i++) {
      const first = request(new Uint8Array(Buffer.allocUnsafeSlow(size === undefined ? CHUNK_BYTES : Math.min(CHUNK_BYTES, Number(size))).buffer))
      if (first === undefined) break
      queue.push(first)
    }
    let offset = 0n
    try {
      for (let slot = queue.shift(); slot !== undefined; slot = queue.shift()) {
        const [result] = await slot.reading
        const length = pieceLength(result, path, slot.addr, slot.length)
        await sink(slot.buffer.subarray(0, length))
        offset += BigInt(length)
        options.onProgress?.(offset)
        if (options.maxBytes !== undefined && offset > BigInt(options.maxBytes)) {
          throw new MemweaveError('cli', 'too_large', `'${path}' is larger than ${options.maxBytes} bytes`)
        }
        if (length < slot.length) return offset
        const again = request(slot.buffer)
        if (again !== undefined) queue.push(again)
      }
      return offset
    } finally {
      // Reads still in flight after a stop write into our buffers only; let them finish before the handle closes.
      await Promise.allSettled(queue.map((q) => q.reading))
    }
  })
}

interface InFlightChunk {
  readonly buffer: Uint8Array
  readonly addr: bigint
  readonly length: number
  readonly reading: Promise<ReadIntoResult[]>
}

export interface RangePiece {
  readonly offset: bigint
  readonly length: number
  /** The bytes read (shorter than length at the end of a leaf), or why the piece failed. */
  readonly result: PieceResult
}

/**
 * Reads [offset, offset+length) of an open leaf as pieces aligned to
 * `pieceBytes`, so a failure (an unmapped page) marks only its own piece.
 */
export async function readRange(client: TreeClient, handle: number, offset: bigint, length: number, pieceBytes: number): Promise<RangePiece[]> {
  const pieces: { addr: bigint; length: number }[] = []
  const step = BigInt(pieceBytes)
  for (let at = offset, end = offset + BigInt(length); at < end;) {
    const next = (at / step + 1n) * step
    const stop = next < end ? next : end
    pieces.push({ addr: at, length: Number(stop - at) })
    at = stop
  }
  const out: RangePiece[] = []
  // One call per 64 pieces keeps each request modest while still batching.
  for (let i = 0; i < pieces.length; i += 64) {
    const batch = pieces.slice(i, i + 64)
    const results = await client.read(handle, batch)
    batch.forEach((piece, j) => {
      const result = results[j] ?? { ok: false, error: new MemweaveError('cli', 'protocol', `no result for the piece at ${hex(piece.addr)}`) }
      out.push({ offset: piece.addr, length: piece.length, result })
    })
  }
  return out
}

/** Writes `data` at `offset` in 1 MiB pieces; the first failed piece becomes the error. */
export async function writeRange(client: TreeClient, path: string, offset: bigint, data: Uint8Array): Promise<void> {
  await withLeaf(client, path, async (opened) => {
    const pieces: { addr: bigint; data: Uint8Array }[] = []
    for (let at = 0; at < data.length; at += CHUNK_BYTES) pieces.push({ addr: offset + BigInt(at), data: data.subarray(at, at + CHUNK_BYTES) })
    const results = await client.write(opened.handle, pieces)
    results.forEach((result, i) => {
      if (!result.ok) {
        const piece = pieces[i]
        throw new MemweaveError(result.error.origin, result.error.kind,
          `cannot write ${piece?.data.length ?? 0} bytes to '${path}' at ${hex(piece?.addr ?? 0n)}: ${result.error.message}`, { cause: result.error })
      }
    })
  })
}

function pieceLength(result: ReadIntoResult | undefined, path: string, addr: bigint, length: number): number {
  if (result === undefined) throw new MemweaveError('cli', 'protocol', `no result for the read of '${path}' at ${hex(addr)}`)
  if (!result.ok) {
    throw new MemweaveError(result.error.origin, result.error.kind,
      `cannot read ${length} bytes of '${path}' at ${hex(addr)}: ${result.error.message}`, { cause: result.error })
  }
  return result.length
}
