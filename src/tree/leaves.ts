/**
 * Ready-made leaves: memory views, text/JSON generated once per open (so one
 * read sequence sees one snapshot), RPC endpoints and control leaves that
 * take one command per written line.
 */
import { MemweaveError, quote, toMemweaveError } from '../errors/index.js'
import { readInto } from '../mem/index.js'
import type { MemoryView, PieceResult, ReadPiece, WritePiece, WriteResult } from '../mem/index.js'
import type { Lifetime } from './lifetime.js'
import type { Leaf, LeafMeta, OpenedLeaf, RpcContext } from './tree-node.js'

/** Serves reads of a byte snapshot; pieces past the end come back short (EOF semantics). */
export function readSnapshot(bytes: Uint8Array, pieces: readonly ReadPiece[]): PieceResult[] {
  const size = BigInt(bytes.length)
  return pieces.map((piece) => {
    if (piece.addr < 0n) return { ok: false, error: new MemweaveError('tree', 'out_of_bounds', `negative offset ${piece.addr}`) }
    if (piece.addr >= size) return { ok: true, data: new Uint8Array(0) }
    const start = Number(piece.addr)
    return { ok: true, data: bytes.subarray(start, Math.min(bytes.length, start + piece.length)) }
  })
}

export interface MemLeafOptions {
  identity: string
  lifetime: Lifetime
  mem: MemoryView
  /** Extent of the view (e.g. 2^48 for a process); defaults to metadata().maxAddress. */
  sizeBytes?: bigint
}

export function memLeaf(options: MemLeafOptions): Leaf {
  const sizeBytes = (): bigint => options.sizeBytes ?? options.mem.metadata().maxAddress
  return {
    type: 'leaf',
    identity: options.identity,
    lifetime: options.lifetime,
    meta: (): LeafMeta => ({ sizeBytes: sizeBytes(), readable: true, writable: !options.mem.metadata().readonly, rpc: false, content: 'mem' }),
    open: async (): Promise<OpenedLeaf> => ({
      sizeBytes: sizeBytes(),
      read: (pieces) => options.mem.read(pieces),
      readInto: (pieces, target) => readInto(options.mem, pieces, target),
      ...(options.mem.fileSpans === undefined ? {} : { fileSpans: (addr: bigint, length: number) => options.mem.fileSpans?.(addr, length) }),
      // Only when the leaf is the whole view: a leaf cut to a smaller extent reads zeros past the view's own map.
      ...(options.mem.fileMap === undefined || options.sizeBytes !== undefined ? {} : { fileMap: () => options.mem.fileMap?.() }),
      write: (pieces) => options.mem.write(pieces),
    }),
  }
}

export interface GeneratedLeafOptions {
  identity: string
  lifetime: Lifetime
  generate: () => Promise<string | Uint8Array> | string | Uint8Array
  content?: 'text' | 'binary'
  /** How long a generated result is reused for metadata (size) queries. */
  metaCacheMs?: number
}

const encoder = new TextEncoder()

function toBytes(value: string | Uint8Array): Uint8Array {
  return typeof value === 'string' ? encoder.encode(value) : value
}

/**
 * A leaf whose bytes a function computes. Each open takes one snapshot.
 * Metadata computes it too (briefly cached) so listings can show real sizes.
 */
export function generatedLeaf(options: GeneratedLeafOptions): Leaf {
  let cached: { bytes: Uint8Array; at: number } | undefined
  const metaCacheMs = options.metaCacheMs ?? 1000
  const snapshot = async (): Promise<Uint8Array> => {
    const bytes = toBytes(await options.generate())
    cached = { bytes, at: performance.now() }
    return bytes
  }
  return {
    type: 'leaf',
    identity: options.identity,
    lifetime: options.lifetime,
    meta: async (): Promise<LeafMeta> => {
      const bytes = cached !== undefined && performance.now() - cached.at < metaCacheMs ? cached.bytes : await snapshot()
      return { sizeBytes: BigInt(bytes.length), readable: true, writable: false, rpc: false, content: options.content ?? 'text' }
    },
    open: async (): Promise<OpenedLeaf> => {
      const bytes = await snapshot()
      return { sizeBytes: BigInt(bytes.length), read: async (pieces) => readSnapshot(bytes, pieces) }
    },
  }
}

export function jsonLeaf(identity: string, lifetime: Lifetime, value: () => unknown): Leaf {
  return generatedLeaf({
    identity,
    lifetime,
    generate: async () => `${JSON.stringify(await value(), jsonReplacer, 2)}\n`,
  })
}

/** JSON cannot hold bigints; addresses become hex strings, other bigints decimal strings. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value > 0xffffffffn || value < 0n ? `0x${value.toString(16)}` : Number(value)
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex')
  return value
}

export function rpcLeaf(identity: string, lifetime: Lifetime, handler: (request: unknown, context: RpcContext) => Promise<unknown>, help = ''): Leaf {
  const helpBytes = encoder.encode(help)
  return {
    type: 'leaf',
    identity,
    lifetime,
    meta: (): LeafMeta => ({ sizeBytes: BigInt(helpBytes.length), readable: true, writable: false, rpc: true, content: 'rpc' }),
    open: async (): Promise<OpenedLeaf> => ({
      sizeBytes: BigInt(helpBytes.length),
      read: async (pieces) => readSnapshot(helpBytes, pieces),
      rpc: (request, context) => handler(request, context ?? {}),
    }),
  }
}

export interface ControlLeafOptions {
  identity: string
  lifetime: Lifetime
  /** Usage text shown when the leaf is read. */
  usage: string
  /** Runs one command line; its result text is kept as the last result. */
  run: (line: string) => Promise<string>
}

/**
 * A leaf that takes commands: every written piece holds one or more lines;
 * each line runs in order. Reading shows usage and the last results, so a
 * shell user whose `echo >>` failed can `cat` the reason.
 */
export function controlLeaf(options: ControlLeafOptions): Leaf {
  const history: string[] = []
  const text = (): Uint8Array => encoder.encode(`${options.usage}\n${history.length > 0 ? `\nrecent:\n${history.join('\n')}\n` : ''}`)
  const record = (line: string): void => {
    history.push(line)
    if (history.length > 20) history.shift()
  }
  return {
    type: 'leaf',
    identity: options.identity,
    lifetime: options.lifetime,
    meta: (): LeafMeta => ({ sizeBytes: BigInt(text().length), readable: true, writable: true, rpc: true, content: 'control' }),
    open: async (): Promise<OpenedLeaf> => {
      return {
        sizeBytes: undefined,
        // Live, not a snapshot: the handle is shared, and a reader wants the latest results.
        read: async (pieces) => readSnapshot(text(), pieces),
        write: async (pieces: readonly WritePiece[]): Promise<WriteResult[]> => {
          const results: WriteResult[] = []
          for (const piece of pieces) {
            const lines = new TextDecoder().decode(piece.data).split('\n').map((l) => l.trim()).filter((l) => l.length > 0)
            let failure: MemweaveError | undefined
            for (const line of lines) {
              try {
                record(`ok: ${quote(line)} -> ${await options.run(line)}`)
              } catch (err) {
                failure = toMemweaveError(err, 'tree', quote(line))
                record(`error: ${quote(line)} -> ${failure.message}`)
                break
              }
            }
            results.push(failure === undefined ? { ok: true } : { ok: false, error: failure })
          }
          return results
        },
        rpc: async (request: unknown) => {
          if (typeof request !== 'string') throw new MemweaveError('tree', 'invalid_argument', 'control leaf rpc takes one command line (a string)')
          try {
            const result = await options.run(request.trim())
            record(`ok: ${quote(request.trim())} -> ${result}`)
            return result
          } catch (err) {
            const error = toMemweaveError(err, 'tree', quote(request.trim()))
            record(`error: ${quote(request.trim())} -> ${error.message}`)
            throw error
          }
        },
      }
    },
  }
}
