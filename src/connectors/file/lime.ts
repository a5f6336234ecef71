/**
 * LiME images (Linux Memory Extractor, "lime" format): a sequence of
 * 32-byte headers, each followed by the bytes of its range:
 *
 *   u32 magic 0x4C694D45 ("EMiL" on disk) | u32 version (1)
 *   u64 s_addr | u64 e_addr (inclusive end) | u8 reserved[8]
 *
 * Every range must be fully present in the file; nothing else is allowed
 * between or after them.
 */
import { MemweaveError } from '../../errors/index.js'
import { MAX_IMAGE_RANGES, layoutRanges } from './image-layout.js'
import type { ImageLayout, ImageSegment } from './image-layout.js'
import { malformed, readStruct } from './image-source.js'
import type { ImageSource } from './image-source.js'

export const LIME_MAGIC = 0x4c694d45
export const LIME_VERSION = 1
export const LIME_HEADER_BYTES = 32

export function hasLimeMagic(head: Uint8Array): boolean {
  return head.length >= 4 && new DataView(head.buffer, head.byteOffset, 4).getUint32(0, true) === LIME_MAGIC
}

export async function parseLime(source: ImageSource): Promise<ImageLayout> {
  if (source.sizeBytes === 0) throw malformed(source, 'the file is empty')
  const segments: ImageSegment[] = []
  let offset = 0
  while (offset < source.sizeBytes) {
    const index = segments.length
    if (index >= MAX_IMAGE_RANGES) {
      throw new MemweaveError('connector', 'limit', `${source.name}: more than ${MAX_IMAGE_RANGES} LiME ranges; at most that many are supported`)
    }
    const header = await readStruct(source, offset, LIME_HEADER_BYTES, `LiME header #${index}`)
    const view = new DataView(header.buffer, header.byteOffset, LIME_HEADER_BYTES)
    const magic = view.getUint32(0, true)
    if (magic !== LIME_MAGIC) {
      throw malformed(source, `LiME header #${index} at offset ${offset}: bad magic 0x${magic.toString(16)} (expected 0x${LIME_MAGIC.toString(16)})`)
    }
    const version = view.getUint32(4, true)
    if (version !== LIME_VERSION) {
      throw new MemweaveError('connector', 'unsupported', `${source.name}: LiME header #${index} at offset ${offset}: version ${version} is not supported (only ${LIME_VERSION})`)
    }
    const start = view.getBigUint64(8, true)
    const end = view.getBigUint64(16, true)
    if (end < start) {
      throw malformed(source, `LiME header #${index} at offset ${offset}: end 0x${end.toString(16)} is below start 0x${start.toString(16)}`)
    }
    const length = end - start + 1n
    const dataOffset = offset + LIME_HEADER_BYTES
    const remaining = BigInt(source.sizeBytes - dataOffset)
    if (length > remaining) {
      throw malformed(source, `LiME range #${index} (0x${start.toString(16)}-0x${end.toString(16)}) needs 0x${length.toString(16)} bytes but only ${remaining} remain in the file`)
    }
    segments.push({ start, fileBytes: length, memBytes: length, fileOffset: dataOffset, label: `LiME range #${index}` })
    offset = dataOffset + Number(length)
  }
  const { ranges, duplicates } = layoutRanges(source, segments, false)
  return { format: 'lime', ranges, notes: [], addressing: 'physical', duplicateSegments: duplicates }
}
