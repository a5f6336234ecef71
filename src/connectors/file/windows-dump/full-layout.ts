/**
 * A full crash dump (DumpType 1): after the header, the pages of each
 * PhysicalMemoryBlock run in order, run after run, with nothing between.
 *
 *   file: [header][run 0 pages][run 1 pages]...
 *   run i covers physical [BasePage*4096, (BasePage+PageCount)*4096)
 */
import { malformed } from '../image-source.js'
import type { ImageSource } from '../image-source.js'
import type { ImageSegment } from '../image-layout.js'
import { PAGE_BYTES } from './dump-header.js'
import type { DumpHeader } from './dump-header.js'

const PAGE = BigInt(PAGE_BYTES)

export function fullDumpSegments(source: ImageSource, header: DumpHeader): ImageSegment[] {
  const runs = header.runs
  if (runs === undefined) throw malformed(source, 'full crash dump without physical memory runs (the PhysicalMemoryBlock holds PAGE filler)')
  const segments: ImageSegment[] = []
  let offset = BigInt(header.headerBytes)
  const fileBytes = BigInt(source.sizeBytes)
  runs.forEach((run, i) => {
    const length = run.pageCount * PAGE
    if (offset + length > fileBytes) {
      throw malformed(source, `physical memory run #${i} (page 0x${run.basePage.toString(16)}, 0x${run.pageCount.toString(16)} pages) needs file bytes up to ${offset + length}, but the file has ${fileBytes}`)
    }
    segments.push({ start: run.basePage * PAGE, fileBytes: length, memBytes: length, fileOffset: Number(offset), label: `run #${i}` })
    offset += length
  })
  return segments
}
