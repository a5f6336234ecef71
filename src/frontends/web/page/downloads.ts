/**
 * Downloads: a leaf, or a range of a mem leaf, read in 1 MiB pieces over the
 * protocol, collected into a Blob and handed to the browser as a file (the
 * pieces are read one after another, so the daemon never holds more than
 * one). A range with unmapped pages is refused rather than filled with
 * zeros; a process's whole memory is its `core` leaf.
 */
import type { PageClient } from './protocol.js'

const CHUNK = 1 << 20

export interface DownloadRange { readonly start: bigint; readonly length: bigint }

/** Reads [start, start+length) (or a whole leaf: length undefined, until a short read) and saves it as `name`. */
export async function download(client: PageClient, path: string, name: string, range: DownloadRange | undefined, onProgress: (bytes: number) => void): Promise<number> {
  const opened = await client.open(path)
  const parts: Uint8Array[] = []
  let total = 0
  try {
    const start = range?.start ?? 0n
    const end = range === undefined ? (opened.sizeBytes ?? 1n << 62n) : start + range.length
    for (let at = start; at < end;) {
      const length = Number(end - at < BigInt(CHUNK) ? end - at : BigInt(CHUNK))
      const [piece] = await client.read(opened.handle, [{ addr: at, length }])
      if (piece === undefined || !piece.ok) throw new Error(`cannot read at 0x${at.toString(16)}: ${piece?.ok === false ? piece.error.message : 'no answer'} (nothing saved)`)
      parts.push(piece.data)
      total += piece.data.length
      onProgress(total)
      if (piece.data.length < length) break
      at += BigInt(length)
    }
  } finally {
    await client.close(opened.handle).catch(() => null)
  }
  const blob = new Blob(parts as BlobPart[], { type: 'application/octet-stream' })
  const url = URL.createObjectURL(blob)
  const link = document.createElement('a')
  link.href = url
  link.download = name
  link.click()
  setTimeout(() => URL.revokeObjectURL(url), 60_000)
  return total
}
