/**
 * Leaf I/O on a TreeClient for the commands: open a leaf for one job and
 * close it in `finally`, stream a leaf in 1 MiB pieces until its size or a
 * short read, read a range piece by piece, write, and call an RPC.
 */
import { MemweaveError } from '../../errors/index.js'
import type { OpenResult, PieceResult, TreeClient } from '../../net/index.js'
import { hex } from './numbers.js'

export const CHUNK_BYTES = 1024 * 1024
/** Pieces per read call while streaming: enough to keep a socket busy, small enough to stop soon after an error. */
const PIECES_PER_CALL = 4
/** Text and JSON leaves are small; anything larger than this is not something to parse. */
export const MAX_TEXT_BYTES = 64 * 1024 * 1024

export async function withLeaf<T>(client: TreeClient, path: string, job: (opened: OpenResult) => Promise<T>): Promise<T> {
  const opened = await client.open(path)
  try {
    return await job(opened)
  } finally {
    await client.close(opened.handle)
  }
}

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
 * is unknown, until a piece comes back short. A failed piece stops the copy
 * with an error naming the offset. Returns the bytes copied.
 */
export async function streamLeaf(
  client: TreeClient, path: string, sink: (chunk: Uint8Array) => Promise<void>, options: StreamOptions = {},
): Promise<bigint> {
  return withLeaf(client, path, async (opened) => {
    const size = opened.sizeBytes
    options.onOpen?.(size)
    let offset = 0n
    for (;;) {
      const pieces: { addr: bigint; length: number }[] = []
      for (let i = 0, at = offset; i < PIECES_PER_CALL && (size === undefined || at < size); i++, at += BigInt(CHUNK_BYTES)) {
        const left = size === undefined ? BigInt(CHUNK_BYTES) : size - at
        pieces.push({ addr: at, length: Number(left < BigInt(CHUNK_BYTES) ? left : BigInt(CHUNK_BYTES)) })
      }
      if (pieces.length === 0) return offset
      const results = await client.read(opened.handle, pieces)
      for (const [i, piece] of pieces.entries()) {
        const data = pieceData(results[i], path, piece.addr, piece.length)
        await sink(data)
        offset += BigInt(data.length)
        options.onProgress?.(offset)
        if (options.maxBytes !== undefined && offset > BigInt(options.maxBytes)) {
          throw new MemweaveError('cli', 'too_large', `'${path}' is larger than ${options.maxBytes} bytes`)
        }
        if (data.length < piece.length) return offset
      }
    }
  })
}

/** The whole content of a (small) leaf. */
export async function readLeaf(client: TreeClient, path: string): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  await streamLeaf(client, path, async (chunk) => { chunks.push(chunk) }, { maxBytes: MAX_TEXT_BYTES })
  return Buffer.concat(chunks)
}

export async function readText(client: TreeClient, path: string): Promise<string> {
  return new TextDecoder().decode(await readLeaf(client, path))
}

export async function readJson(client: TreeClient, path: string): Promise<unknown> {
  const text = await readText(client, path)
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new MemweaveError('cli', 'malformed', `'${path}' does not hold JSON`, { cause: err })
  }
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

export async function callRpc(client: TreeClient, path: string, request: unknown): Promise<unknown> {
  return withLeaf(client, path, (opened) => client.rpc(opened.handle, request))
}

function pieceData(result: PieceResult | undefined, path: string, addr: bigint, length: number): Uint8Array {
  if (result === undefined) throw new MemweaveError('cli', 'protocol', `no result for the read of '${path}' at ${hex(addr)}`)
  if (!result.ok) {
    throw new MemweaveError(result.error.origin, result.error.kind,
      `cannot read ${length} bytes of '${path}' at ${hex(addr)}: ${result.error.message}`, { cause: result.error })
  }
  return result.data
}

/** A JSON object (not an array, not null), as info leaves hold. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
