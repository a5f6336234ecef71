/**
 * msgpack as the protocol speaks it (src/net/codec.ts), for the page: the
 * few types the protocol uses, in a few hundred bytes of bundle instead of
 * a general library (a third of the page's first download was msgpackr).
 *
 *   encode: nil, bool, ints (the smallest form; beyond 32 bits a float64, as
 *           the daemon's encoder does), floats, str, bin (Uint8Array), arrays,
 *           maps (plain objects; keys with undefined values are left out),
 *           bigint as int64 (uint64 above 2^63)
 *   decode: all of msgpack's formats; 64-bit integers as bigint, the others
 *           as numbers; bin as a Uint8Array view of the message; ext 0x42
 *           (the daemon's bigint beyond 64 bits), ext 0 (undefined) and
 *           ext -1 (timestamp, as a Date)
 *
 * Anything else (an unknown ext, trailing bytes, a truncated message) throws.
 */

const utf8 = new TextEncoder()
const text = new TextDecoder()

class Writer {
  private bytes: Uint8Array<ArrayBuffer> = new Uint8Array(256)
  private view = new DataView(this.bytes.buffer)
  length = 0

  private room(n: number): void {
    if (this.length + n <= this.bytes.length) return
    const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.length + n))
    grown.set(this.bytes.subarray(0, this.length))
    this.bytes = grown
    this.view = new DataView(grown.buffer)
  }

  u8(value: number): void { this.room(1); this.bytes[this.length++] = value }
  u16(value: number): void { this.room(2); this.view.setUint16(this.length, value); this.length += 2 }
  u32(value: number): void { this.room(4); this.view.setUint32(this.length, value); this.length += 4 }
  i8(value: number): void { this.room(1); this.view.setInt8(this.length, value); this.length += 1 }
  i16(value: number): void { this.room(2); this.view.setInt16(this.length, value); this.length += 2 }
  i32(value: number): void { this.room(4); this.view.setInt32(this.length, value); this.length += 4 }
  f64(value: number): void { this.room(8); this.view.setFloat64(this.length, value); this.length += 8 }
  i64(value: bigint): void { this.room(8); this.view.setBigInt64(this.length, value); this.length += 8 }
  u64(value: bigint): void { this.room(8); this.view.setBigUint64(this.length, value); this.length += 8 }
  raw(data: Uint8Array): void { this.room(data.length); this.bytes.set(data, this.length); this.length += data.length }

  /** The bytes written, as their own buffer (WebSocket.send takes it whole). */
  result(): Uint8Array<ArrayBuffer> { return this.bytes.slice(0, this.length) }
}

export function encode(value: unknown): Uint8Array<ArrayBuffer> {
  const out = new Writer()
  write(out, value)
  return out.result()
}

function write(out: Writer, value: unknown): void {
  if (value === null || value === undefined) out.u8(0xc0)
  else if (typeof value === 'boolean') out.u8(value ? 0xc3 : 0xc2)
  else if (typeof value === 'number') writeNumber(out, value)
  else if (typeof value === 'bigint') writeBigint(out, value)
  else if (typeof value === 'string') writeHead(out, utf8.encode(value), 0xa0, 32, 0xd9)
  else if (value instanceof Uint8Array) writeHead(out, value, undefined, 0, 0xc4)
  else if (Array.isArray(value)) {
    writeLength(out, value.length, 0x90, 16, 0xdc)
    for (const item of value) write(out, item)
  } else if (typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined)
    writeLength(out, entries.length, 0x80, 16, 0xde)
    for (const [key, item] of entries) { write(out, key); write(out, item) }
  } else {
    throw new TypeError(`cannot encode a ${typeof value} as msgpack`)
  }
}

function writeNumber(out: Writer, value: number): void {
  if (value >>> 0 === value) {
    if (value < 0x80) out.u8(value)
    else if (value < 0x100) { out.u8(0xcc); out.u8(value) }
    else if (value < 0x10000) { out.u8(0xcd); out.u16(value) }
    else { out.u8(0xce); out.u32(value) }
  } else if (value >> 0 === value) {
    if (value >= -32) out.u8(value & 0xff)
    else if (value >= -0x80) { out.u8(0xd0); out.i8(value) }
    else if (value >= -0x8000) { out.u8(0xd1); out.i16(value) }
    else { out.u8(0xd2); out.i32(value) }
  } else {
    out.u8(0xcb)
    out.f64(value)
  }
}

function writeBigint(out: Writer, value: bigint): void {
  if (value >= -(1n << 63n) && value < 1n << 63n) { out.u8(0xd3); out.i64(value) }
  else if (value >= 0n && value < 1n << 64n) { out.u8(0xcf); out.u64(value) }
  else throw new RangeError('the page sends no integer beyond 64 bits')
}

/** A str or bin: its length head (fix form when `fix` is given and it fits, then 8, 16, 32 bits) and its bytes. */
function writeHead(out: Writer, data: Uint8Array, fix: number | undefined, fixMax: number, base: number): void {
  const n = data.length
  if (fix !== undefined && n < fixMax) out.u8(fix | n)
  else if (n < 0x100) { out.u8(base); out.u8(n) }
  else if (n < 0x10000) { out.u8(base + 1); out.u16(n) }
  else { out.u8(base + 2); out.u32(n) }
  out.raw(data)
}

/** An array's or map's head: the fix form below fixMax, else 16 or 32 bits. */
function writeLength(out: Writer, n: number, fix: number, fixMax: number, base: number): void {
  if (n < fixMax) out.u8(fix | n)
  else if (n < 0x10000) { out.u8(base); out.u16(n) }
  else { out.u8(base + 1); out.u32(n) }
}

export function decode(bytes: Uint8Array): unknown {
  const reader = new Reader(bytes)
  const value = reader.value()
  if (reader.at !== bytes.length) throw new RangeError(`msgpack message has ${bytes.length - reader.at} bytes after its value`)
  return value
}

class Reader {
  at = 0
  private readonly view: DataView

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }

  private take(n: number): number {
    const at = this.at
    if (at + n > this.bytes.length) throw new RangeError('msgpack message is truncated')
    this.at += n
    return at
  }

  private u8(): number { return this.view.getUint8(this.take(1)) }
  private u16(): number { return this.view.getUint16(this.take(2)) }
  private u32(): number { return this.view.getUint32(this.take(4)) }

  value(): unknown {
    const b = this.u8()
    if (b < 0x80) return b
    if (b < 0x90) return this.map(b & 0x0f)
    if (b < 0xa0) return this.array(b & 0x0f)
    if (b < 0xc0) return this.str(b & 0x1f)
    if (b >= 0xe0) return b - 0x100
    switch (b) {
      case 0xc0: return null
      case 0xc2: return false
      case 0xc3: return true
      case 0xc4: return this.bin(this.u8())
      case 0xc5: return this.bin(this.u16())
      case 0xc6: return this.bin(this.u32())
      case 0xc7: return this.ext(this.u8())
      case 0xc8: return this.ext(this.u16())
      case 0xc9: return this.ext(this.u32())
      case 0xca: return this.view.getFloat32(this.take(4))
      case 0xcb: return this.view.getFloat64(this.take(8))
      case 0xcc: return this.u8()
      case 0xcd: return this.u16()
      case 0xce: return this.u32()
      case 0xcf: return this.view.getBigUint64(this.take(8))
      case 0xd0: return this.view.getInt8(this.take(1))
      case 0xd1: return this.view.getInt16(this.take(2))
      case 0xd2: return this.view.getInt32(this.take(4))
      case 0xd3: return this.view.getBigInt64(this.take(8))
      case 0xd4: return this.ext(1)
      case 0xd5: return this.ext(2)
      case 0xd6: return this.ext(4)
      case 0xd7: return this.ext(8)
      case 0xd8: return this.ext(16)
      case 0xd9: return this.str(this.u8())
      case 0xda: return this.str(this.u16())
      case 0xdb: return this.str(this.u32())
      case 0xdc: return this.array(this.u16())
      case 0xdd: return this.array(this.u32())
      case 0xde: return this.map(this.u16())
      case 0xdf: return this.map(this.u32())
      default: throw new RangeError(`0x${b.toString(16)} is not a msgpack type`)
    }
  }

  private bin(n: number): Uint8Array {
    const at = this.take(n)
    return this.bytes.subarray(at, at + n)
  }

  private str(n: number): string {
    const at = this.take(n)
    // Short ASCII (keys, names) without a TextDecoder call; anything else through it.
    if (n <= 24) {
      let out = ''
      for (let i = at; i < at + n; i++) {
        const c = this.bytes[i] ?? 0
        if (c >= 0x80) return text.decode(this.bytes.subarray(at, at + n))
        out += String.fromCharCode(c)
      }
      return out
    }
    return text.decode(this.bytes.subarray(at, at + n))
  }

  private array(n: number): unknown[] {
    const out: unknown[] = []
    for (let i = 0; i < n; i++) out.push(this.value())
    return out
  }

  private map(n: number): Record<string, unknown> {
    const out: Record<string, unknown> = {}
    for (let i = 0; i < n; i++) {
      const key = String(this.value())
      const item = this.value()
      // A key named __proto__ (memory content can be anything) is a plain property, never the object's prototype.
      if (key === '__proto__') Object.defineProperty(out, key, { value: item, enumerable: true, writable: true, configurable: true })
      else out[key] = item
    }
    return out
  }

  private ext(n: number): unknown {
    const type = this.view.getInt8(this.take(1))
    const data = this.bin(n)
    if (type === 0) return undefined
    if (type === 0x42) return bigintOf(data)
    if (type === -1) return timestampOf(data)
    throw new RangeError(`msgpack extension ${type} is not used by the protocol`)
  }
}

/** The daemon's bigint extension: big-endian two's complement. */
function bigintOf(data: Uint8Array): bigint {
  let value = 0n
  for (const byte of data) value = (value << 8n) | BigInt(byte)
  return data.length > 0 && (data[0] ?? 0) & 0x80 ? value - (1n << BigInt(8 * data.length)) : value
}

function timestampOf(data: Uint8Array): Date {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
  if (data.length === 4) return new Date(view.getUint32(0) * 1000)
  if (data.length === 8) {
    const high = view.getUint32(0)
    return new Date(((high & 0x3) * 2 ** 32 + view.getUint32(4)) * 1000 + (high >>> 2) / 1e6)
  }
  if (data.length === 12) return new Date(Number(view.getBigInt64(4)) * 1000 + view.getUint32(0) / 1e6)
  throw new RangeError(`a msgpack timestamp of ${data.length} bytes`)
}
