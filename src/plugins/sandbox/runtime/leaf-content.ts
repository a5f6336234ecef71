/**
 * Turns what a plugin's read handler returned (string, bytes, or an async
 * iterable of either) into whole bytes or a chunk iterator. Shared by the
 * in-daemon built-ins and the sandbox runtime.
 */
const encoder = new TextEncoder()

export type NormalizedContent = { readonly bytes: Uint8Array } | { readonly chunks: AsyncIterator<Uint8Array> }

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value
}

export function chunkBytes(value: unknown): Uint8Array {
  if (typeof value === 'string') return encoder.encode(value)
  if (value instanceof Uint8Array) return value
  throw new TypeError(`a leaf's content must be a string or a Uint8Array, not ${value === null ? 'null' : typeof value}`)
}

async function* bytesOf(source: AsyncIterable<unknown>): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    const bytes = chunkBytes(chunk)
    if (bytes.length > 0) yield bytes
  }
}

/** A leaf's content as a plugin returned it: a LeafContent (plugin-api.ts), or anything else, which chunkBytes turns into bytes or refuses. */
export function normalizeContent(content: unknown): NormalizedContent {
  if (isAsyncIterable(content)) return { chunks: bytesOf(content)[Symbol.asyncIterator]() }
  return { bytes: chunkBytes(content) }
}
