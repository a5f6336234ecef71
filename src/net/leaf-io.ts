/**
 * Leaf I/O on any TreeClient (a daemon's or an in-process node's), shared by
 * the library API and the CLI: open a leaf for one job and close it in
 * `finally`, read a whole (small) leaf, its text or JSON, write a control
 * line, call an RPC.
 */
import { MemweaveError } from '../errors/index.js'
import { hex } from '../mem/index.js'
import type { PieceResult } from '../mem/index.js'
import type { OpenResult, TreeClient } from './tree-client.js'

const CHUNK_BYTES = 1024 * 1024
/** Info, maps and other text leaves are small; a bigger one is not something to hold in memory by accident. */
export const DEFAULT_MAX_LEAF_BYTES = 64 * 1024 * 1024

export async function withLeaf<T>(client: TreeClient, path: string, job: (opened: OpenResult) => Promise<T>): Promise<T> {
  const opened = await client.open(path)
  try {
    return await job(opened)
  } finally {
    await client.close(opened.handle)
  }
}

/** The bytes of a piece result, or its error with the path and address added. */
export function pieceData(result: PieceResult | undefined, what: string, addr: bigint): Uint8Array {
  if (result === undefined) throw new MemweaveError('net', 'protocol', `no result for the read of ${what} at ${hex(addr)}`)
  if (!result.ok) throw new MemweaveError(result.error.origin, result.error.kind, `${what} at ${hex(addr)}: ${result.error.message}`, { cause: result.error })
  return result.data
}

/** A whole leaf, up to its size (or, size unknown, a short piece); more than maxBytes is an error. */
export async function readLeaf(client: TreeClient, path: string, maxBytes = DEFAULT_MAX_LEAF_BYTES): Promise<Uint8Array> {
  return withLeaf(client, path, async ({ handle, sizeBytes }) => {
    const chunks: Uint8Array[] = []
    let offset = 0n
    for (;;) {
      const left = sizeBytes === undefined ? BigInt(CHUNK_BYTES) : sizeBytes - offset
      if (left <= 0n) break
      const length = Number(left < BigInt(CHUNK_BYTES) ? left : BigInt(CHUNK_BYTES))
      const [result] = await client.read(handle, [{ addr: offset, length }])
      const data = pieceData(result, `'${path}'`, offset)
      chunks.push(data)
      offset += BigInt(data.length)
      if (offset > BigInt(maxBytes)) throw new MemweaveError('net', 'too_large', `'${path}' is larger than ${maxBytes} bytes`)
      if (data.length < length) break
    }
    return Buffer.concat(chunks)
  })
}

export async function readText(client: TreeClient, path: string): Promise<string> {
  return new TextDecoder().decode(await readLeaf(client, path))
}

export async function readJson(client: TreeClient, path: string): Promise<unknown> {
  return parseLeafJson(path, await readLeaf(client, path))
}

/** A leaf's bytes as JSON; a leaf that holds none is a `malformed` error naming it. */
export function parseLeafJson(path: string, data: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(data))
  } catch (err) {
    throw new MemweaveError('net', 'malformed', `'${path}' does not hold JSON`, { cause: err })
  }
}

/** Writes one line to a control leaf (`connector/new`, `os/new`, …); the leaf's refusal is thrown. */
export async function writeLine(client: TreeClient, path: string, line: string): Promise<void> {
  await withLeaf(client, path, async ({ handle }) => {
    const [result] = await client.write(handle, [{ addr: 0n, data: new TextEncoder().encode(`${line}\n`) }])
    if (result === undefined || !result.ok) {
      const error = result?.error
      throw new MemweaveError(error?.origin ?? 'net', error?.kind ?? 'protocol', `'${path}' refused '${line}': ${error?.message ?? 'no result'}`, { cause: error })
    }
  })
}

export async function callRpc(client: TreeClient, path: string, request: unknown): Promise<unknown> {
  return withLeaf(client, path, ({ handle }) => client.rpc(handle, request))
}
