/**
 * A bitmap crash dump (kernel summary 'SDMP', full 'FDMP'; DumpType 2, 5, 6):
 * after the header comes a second header, then a bitmap with one bit per
 * physical page; the pages whose bit is set are stored in bit order from
 * FirstPage on.
 *
 *   +0x00 'SDMP' or 'FDMP'   +0x04 'DUMP'
 *   +0x20 u64 FirstPage (file offset of the first stored page)
 *   +0x28 u64 TotalPresentPages
 *   +0x30 u64 Pages (bits in the bitmap)
 *   +0x38 bitmap, ceil(Pages/8) bytes
 *
 * Each run of set bits becomes one segment, so a dump costs one segment
 * per contiguous stretch of saved pages.
 */
import { MemweaveError } from '../../../errors/index.js'
import { MAX_IMAGE_RANGES } from '../image-layout.js'
import type { ImageSegment } from '../image-layout.js'
import { malformed, readStruct } from '../image-source.js'
import type { ImageSource } from '../image-source.js'
import { PAGE_BYTES } from './dump-header.js'
import type { DumpHeader } from './dump-header.js'

const SDMP = 0x504d4453
const FDMP = 0x504d4446
const DUMP = 0x504d5544
const BITMAP_HEADER_BYTES = 0x38
const PAGE = BigInt(PAGE_BYTES)

export interface BitmapFacts {
  readonly signature: 'SDMP' | 'FDMP'
  readonly firstPage: number
  readonly presentPages: number
  readonly bitmapPages: number
  /** TotalPresentPages as written, when it differs from the bits counted. */
  readonly declaredPresentPages: bigint | undefined
}

export function hasBitmapMagic(bytes: Uint8Array): boolean {
  if (bytes.length < 8) return false
  const v = new DataView(bytes.buffer, bytes.byteOffset, 8)
  const sig = v.getUint32(0, true)
  return (sig === SDMP || sig === FDMP) && v.getUint32(4, true) === DUMP
}

export async function bitmapDumpSegments(source: ImageSource, header: DumpHeader): Promise<{ segments: ImageSegment[]; facts: BitmapFacts }> {
  const at = header.headerBytes
  const head = await readStruct(source, at, BITMAP_HEADER_BYTES, 'bitmap dump header')
  const v = new DataView(head.buffer, head.byteOffset, BITMAP_HEADER_BYTES)
  const signature = v.getUint32(0, true) === SDMP ? 'SDMP' : 'FDMP'
  const firstPage = v.getBigUint64(0x20, true)
  const declared = v.getBigUint64(0x28, true)
  const bits = v.getBigUint64(0x30, true)
  const bitmapBytes = (bits + 7n) / 8n
  const fileBytes = BigInt(source.sizeBytes)
  if (BigInt(at + BITMAP_HEADER_BYTES) + bitmapBytes > fileBytes) {
    throw malformed(source, `bitmap of ${bits} pages needs ${bitmapBytes} bytes at offset ${at + BITMAP_HEADER_BYTES}, past the end of the file (${fileBytes} bytes)`)
  }
  if (firstPage > fileBytes) throw malformed(source, `bitmap dump: FirstPage offset ${firstPage} is past the end of the file (${fileBytes} bytes)`)
  const bitmap = await readStruct(source, at + BITMAP_HEADER_BYTES, Number(bitmapBytes), 'page bitmap')
  const segments: ImageSegment[] = []
  const pageCount = Number(bits)
  let stored = 0
  let page = 0
  while (page < pageCount) {
    const byte = bitmap[page >>> 3]!
    if (byte === 0 && (page & 7) === 0) { page += 8; continue }
    if (((byte >>> (page & 7)) & 1) === 0) { page++; continue }
    const start = page
    while (page < pageCount && ((bitmap[page >>> 3]! >>> (page & 7)) & 1) === 1) {
      if ((page & 7) === 0 && bitmap[page >>> 3] === 0xff && page + 8 <= pageCount) page += 8
      else page++
    }
    const count = page - start
    if (segments.length >= MAX_IMAGE_RANGES) {
      throw new MemweaveError('connector', 'limit', `${source.name}: the page bitmap has more than ${MAX_IMAGE_RANGES} runs; at most that many are supported`)
    }
    const fileOffset = firstPage + BigInt(stored) * PAGE
    const length = BigInt(count) * PAGE
    if (fileOffset + length > fileBytes) {
      throw malformed(source, `bitmap run at page 0x${start.toString(16)} (${count} pages) needs file bytes up to ${fileOffset + length}, but the file has ${fileBytes}`)
    }
    segments.push({ start: BigInt(start) * PAGE, fileBytes: length, memBytes: length, fileOffset: Number(fileOffset), label: `bitmap run at page 0x${start.toString(16)}` })
    stored += count
  }
  return {
    segments,
    facts: { signature, firstPage: Number(firstPage), presentPages: stored, bitmapPages: pageCount, declaredPresentPages: declared === BigInt(stored) ? undefined : declared },
  }
}
