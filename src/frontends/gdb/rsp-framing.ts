/**
 * gdb remote serial protocol framing: `$payload#cs` packets (cs = sum of the
 * payload bytes mod 256, two hex digits), acknowledged with '+' (or '-' to
 * ask again), and a bare 0x03 byte for an interrupt. Binary replies escape
 * '#', '$', '}' and '*' as '}' followed by the byte XOR 0x20.
 */

export type RspEvent = { readonly type: 'packet'; readonly payload: Buffer } | { readonly type: 'interrupt' } | { readonly type: 'bad-checksum' }

/** Longest packet accepted from gdb (it asks for at most our PacketSize). */
export const MAX_PACKET_BYTES = 1 << 20

function checksum(bytes: Uint8Array): number {
  let sum = 0
  for (const b of bytes) sum = (sum + b) & 0xff
  return sum
}

/** A complete packet for payload, checksum included. */
export function framePacket(payload: Buffer | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload
  return Buffer.concat([Buffer.from('$'), body, Buffer.from(`#${checksum(body).toString(16).padStart(2, '0')}`)])
}

/** Escapes binary data for an 'm…'/'l…' qXfer reply. */
export function escapeBinary(data: Uint8Array): Buffer {
  const out: number[] = []
  for (const b of data) {
    if (b === 0x23 || b === 0x24 || b === 0x7d || b === 0x2a) out.push(0x7d, b ^ 0x20)
    else out.push(b)
  }
  return Buffer.from(out)
}

/** Splits the byte stream from gdb into events; keeps partial packets between chunks. */
export class RspDecoder {
  private pending: Buffer = Buffer.alloc(0)

  push(chunk: Buffer): RspEvent[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk])
    const events: RspEvent[] = []
    for (;;) {
      const start = this.pending.findIndex((b) => b === 0x24 || b === 0x03)
      if (start < 0) { this.pending = Buffer.alloc(0); break }
      if (this.pending[start] === 0x03) {
        events.push({ type: 'interrupt' })
        this.pending = this.pending.subarray(start + 1)
        continue
      }
      const hash = this.pending.indexOf(0x23, start + 1)
      if (hash < 0 || hash + 2 >= this.pending.length) {
        if (this.pending.length - start > MAX_PACKET_BYTES) throw new Error(`gdb packet longer than ${MAX_PACKET_BYTES} bytes`)
        this.pending = this.pending.subarray(start)
        break
      }
      const payload = this.pending.subarray(start + 1, hash)
      const given = Number.parseInt(this.pending.subarray(hash + 1, hash + 3).toString('latin1'), 16)
      events.push(given === checksum(payload) ? { type: 'packet', payload: Buffer.from(payload) } : { type: 'bad-checksum' })
      this.pending = this.pending.subarray(hash + 3)
    }
    return events
  }
}
