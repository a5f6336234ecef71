/**
 * Opening an image: the fd (read-write only when writes are allowed and the
 * file permits it), format detection by magic, and parsing into a layout.
 */
import { close, open } from 'node:fs'
import type { Logger } from 'pino'
import { MemweaveError, toMemweaveError } from '../../errors/index.js'
import { hasElfMagic, parseElfCore } from './elf-core.js'
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

function openFd(path: string, flags: string): Promise<number> {
  return new Promise((resolve, reject) => open(path, flags, (err, fd) => (err !== null ? reject(err) : resolve(fd))))
}

export function closeFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => close(fd, (err) => (err !== null ? reject(err) : resolve())))
}

const READ_ONLY_CODES = new Set(['EACCES', 'EPERM', 'EROFS', 'ETXTBSY'])

/** Opens read-write only when asked; falls back to read-only when the file forbids writing. */
export async function openImageFd(path: string, wantWrite: boolean, log: Logger): Promise<{ fd: number; writable: boolean }> {
  if (wantWrite) {
    try {
      return { fd: await openFd(path, 'r+'), writable: true }
    } catch (err) {
      const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : ''
      if (!READ_ONLY_CODES.has(code)) throw toMemweaveError(err, 'connector', `cannot open ${path}`)
      log.info({ path, code }, 'image is not writable; opening read-only')
    }
  }
  try {
    return { fd: await openFd(path, 'r'), writable: false }
  } catch (err) {
    throw toMemweaveError(err, 'connector', `cannot open ${path}`)
  }
}
