/**
 * Length-prefixed frames over a byte stream (the daemon ↔ plugin pipe):
 * a 4-byte big-endian length, then that many bytes of one msgpack value.
 * Shared by both ends, so it imports nothing.
 */

/** Frames larger than this are a protocol violation (the biggest legitimate one is a 16 MiB read chunk). */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024

export function frameOf(body: Uint8Array): Uint8Array[] {
  if (body.length > MAX_FRAME_BYTES) throw new Error(`frame of ${body.length} bytes exceeds ${MAX_FRAME_BYTES}`)
  const header = new Uint8Array(4)
  new DataView(header.buffer).setUint32(0, body.length, false)
  return [header, body]
}

/** Collects stream chunks and hands out complete frame bodies. */
export class FrameDecoder {
  private chunks: Uint8Array[] = []
  private buffered = 0

  /** Adds bytes; returns the frames they complete. Throws when a header announces an oversized frame. */
  push(chunk: Uint8Array): Uint8Array[] {
    this.chunks.push(chunk)
    this.buffered += chunk.length
    const frames: Uint8Array[] = []
    for (;;) {
      if (this.buffered < 4) return frames
      const length = this.peekLength()
      if (length > MAX_FRAME_BYTES) throw new Error(`peer announced a frame of ${length} bytes (limit ${MAX_FRAME_BYTES})`)
      if (this.buffered < 4 + length) return frames
      const all = this.take(4 + length)
      frames.push(all.subarray(4))
    }
  }

  get pendingBytes(): number {
    return this.buffered
  }

  private peekLength(): number {
    const head = this.chunks.length > 0 && (this.chunks[0]?.length ?? 0) >= 4 ? (this.chunks[0] ?? new Uint8Array(4)) : this.take(4, false)
    return new DataView(head.buffer, head.byteOffset, 4).getUint32(0, false)
  }

  /** The first `count` buffered bytes as one array; consumed unless `consume` is false. */
  private take(count: number, consume = true): Uint8Array {
    const first = this.chunks[0]
    let out: Uint8Array
    if (first !== undefined && first.length >= count) {
      out = first.subarray(0, count)
    } else {
      out = new Uint8Array(count)
      let at = 0
      for (const chunk of this.chunks) {
        const part = chunk.subarray(0, count - at)
        out.set(part, at)
        at += part.length
        if (at === count) break
      }
    }
    if (!consume) return out
    let left = count
    while (left > 0) {
      const head = this.chunks[0]
      if (head === undefined) break
      if (head.length <= left) { this.chunks.shift(); left -= head.length } else { this.chunks[0] = head.subarray(left); left = 0 }
    }
    this.buffered -= count
    return out
  }
}
