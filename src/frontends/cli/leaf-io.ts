/**
 * Leaf I/O on a TreeClient for the commands: the shared helpers of
 * net/leaf-io.ts (withLeaf, readText, readJson, callRpc), and here: stream a
 * leaf in 4 MiB pieces (pipelined, into reused buffers) until its size or a
 * short read, read a range piece by piece, write a range.
 */
import { MemweaveError } from '../../errors/index.js'
import { fromWireError, parseLeafJson, readJson, withLeaf } from '../../net/client.js'
import type { PieceResult, ProtocolClient, ReadIntoResult, TreeClient } from '../../net/client.js'
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

/** One leaf's parsed JSON, or why it could not be read. */
export type JsonLeaf = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: MemweaveError }

/** Leaves read at once by paths (get, protocol 1.5): a daemon's client has it; an in-process or --exclusive one has not. */
function canGet(client: TreeClient): client is TreeClient & Pick<ProtocolClient, 'get'> {
  return 'get' in client && typeof client.get === 'function'
}

/** Paths per get request: far below any daemon's maxPieces, and a few hundred info leaves stay well inside maxBatchBytes. */
const GET_BATCH = 256
/** Leaves in flight at once without get: enough to hide round trips, few enough not to flood a daemon. */
const OPEN_CONCURRENCY = 16

/**
 * Many small JSON leaves (a process table's info leaves), each its own result: from a daemon in
 * one `get` per batch (the daemon opens, reads and closes each), else open, read and close per
 * leaf, several at a time. A daemon older than 1.5 answers get with `unsupported`: then the same.
 */
export async function readJsonLeaves(client: TreeClient, paths: readonly string[]): Promise<JsonLeaf[]> {
  if (canGet(client) && paths.length > 0) {
    try {
      const results: JsonLeaf[] = []
      for (let i = 0; i < paths.length; i += GET_BATCH) {
        const entries = await client.get(paths.slice(i, i + GET_BATCH))
        for (const entry of entries) {
          if (!('error' in entry)) { results.push(parseJsonLeaf(entry.path, entry.data)); continue }
          const error = fromWireError(entry.error)
          // get takes leaves up to 1 MiB; a bigger one is read the long way, as without get.
          results.push(error.kind === 'too_large' ? await readOneJson(client, entry.path) : { ok: false, error })
        }
      }
      return results
    } catch (err) {
      if (!(err instanceof MemweaveError && err.kind === 'unsupported')) throw err
    }
  }
  return mapLimit(paths, OPEN_CONCURRENCY, (path) => readOneJson(client, path))
}

async function readOneJson(client: TreeClient, path: string): Promise<JsonLeaf> {
  try {
    return { ok: true, value: await readJson(client, path) }
  } catch (err) {
    if (err instanceof MemweaveError) return { ok: false, error: err }
    throw err
  }
}

function parseJsonLeaf(path: string, data: Uint8Array): JsonLeaf {
  try {
    return { ok: true, value: parseLeafJson(path, data) }
  } catch (err) {
    if (err instanceof MemweaveError) return { ok: false, error: err }
    throw err
  }
}

/** job over every item, at most `limit` at once; results in the items' order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, job: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [] // filled by index as the jobs finish
  // Workers share one iterator, so each item is taken exactly once.
  const queue = items.entries()
  const worker = async (): Promise<void> => {
    for (const [index, item] of queue) results[index] = await job(item)
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return results
}
