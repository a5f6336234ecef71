/**
 * Opening an image: format detection by magic and parsing into a layout
 * (the descriptor itself comes from host/checked-open.ts).
 */
import { close } from 'node:fs'
import { MemweaveError } from '../../errors/index.js'
import { hasElfMagic } from '../elf/index.js'
import { parseElfCore } from './elf-core.js'
import { IMAGE_FORMATS, rawLayout } from './image-layout.js'
import type { ImageFormat, ImageLayout } from './image-layout.js'
import type { ImageSource } from './image-source.js'
import { hasLimeMagic, parseLime } from './lime.js'
import { hasWindowsDumpMagic, parseWindowsDump } from './windows-dump/windows-dump.js'

export type RequestedFormat = ImageFormat | 'auto'

export function parseFormat(value: string | undefined): RequestedFormat {
  if (value === undefined || value === 'auto') return 'auto'
  const known = IMAGE_FORMATS.find((f) => f === value)
  if (known === undefined) throw new MemweaveError('connector', 'invalid_argument', `file: format must be auto, ${IMAGE_FORMATS.join(', ')}; not '${value}'`)
  return known
}

export async function detectFormat(source: ImageSource): Promise<ImageFormat> {
  const head = await source.read(0, 16)
  if (hasElfMagic(head)) return 'elf'
  if (hasLimeMagic(head)) return 'lime'
  if (hasWindowsDumpMagic(head)) return 'windows-dump'
  return 'raw'
}

export async function parseImage(source: ImageSource, requested: RequestedFormat): Promise<ImageLayout> {
  const format = requested === 'auto' ? await detectFormat(source) : requested
  switch (format) {
    case 'elf': return parseElfCore(source)
    case 'lime': return parseLime(source)
    case 'raw': return rawLayout(source)
    case 'windows-dump': return parseWindowsDump(source)
  }
}

export function closeFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => close(fd, (err) => (err !== null ? reject(err) : resolve())))
}
