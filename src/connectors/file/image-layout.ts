/**
 * What a parsed image is: its format, the address ranges it maps to file
 * offsets (or to zeros), and its ELF notes. Also the shared checks that turn
 * a parser's segment list into ranges a RangeMap accepts.
 */
import type { MappedRange } from '../../mem/index.js'
import type { ElfNote, WindowsDumpHints } from '../connector.js'
import { malformed } from './image-source.js'
import type { ImageSource } from './image-source.js'

export const IMAGE_FORMATS = ['raw', 'elf', 'lime', 'windows-dump'] as const
export type ImageFormat = (typeof IMAGE_FORMATS)[number]

/**
 * Ranges whose backing is negative read as zeros: the tail of an ELF segment
 * with p_filesz < p_memsz. The base is far below -2^64 so that adding any
 * in-range offset (RangeMap.segments does) keeps it negative.
 */
export const ZERO_FILL_BACKING = -(1n << 80n)

export function isZeroFill(backing: bigint): boolean {
  return backing < 0n
}

export interface ImageLayout {
  readonly format: ImageFormat
  /** Sorted, non-overlapping; backing is a file offset or ZERO_FILL_BACKING-based. */
  readonly ranges: readonly MappedRange[]
  readonly notes: readonly ElfNote[]
  /** 'virtual' for process cores (gcore) whose p_paddr are all 0 (addresses are p_vaddr) and Windows triage dumps (kernel virtual blocks). */
  readonly addressing: 'physical' | 'virtual'
  /** Segments dropped because another segment wholly covers them (kdump's kernel-text view). */
  readonly duplicateSegments: number
  /** Windows crash dumps: header facts for the OS layer (hints) and for info. */
  readonly windowsDump?: { readonly hints: WindowsDumpHints; readonly info: Record<string, unknown> }
}

/** One stretch of memory as a format describes it, before overlap checks. */
export interface ImageSegment {
  readonly start: bigint
  /** Bytes present in the file at fileOffset. */
  readonly fileBytes: bigint
  /** Total bytes covered; the part past fileBytes reads as zeros. */
  readonly memBytes: bigint
  readonly fileOffset: number
  /** For errors: "PT_LOAD #3", "LiME range #2". */
  readonly label: string
}

/**
 * Most ranges an image may have. Real dumps have a handful to thousands;
 * makedumpfile's ELF output can have more. At this cap a parse takes under
 * a second and ~150 MiB (measured), so the cost stays bounded.
 */
export const MAX_IMAGE_RANGES = 1 << 18

const ADDRESS_LIMIT = 1n << 64n

/**
 * Sorts segments and checks they do not overlap. With `allowContained`, a
 * segment wholly inside another is taken as a second view of the same memory
 * (kdump emits the kernel text twice) and dropped; any other overlap is malformed.
 */
export function layoutRanges(source: ImageSource, segments: readonly ImageSegment[], allowContained: boolean): { ranges: MappedRange[]; duplicates: number } {
  const sorted = segments.filter((s) => s.memBytes > 0n)
    .sort((a, b) => (a.start !== b.start ? (a.start < b.start ? -1 : 1) : a.memBytes > b.memBytes ? -1 : a.memBytes < b.memBytes ? 1 : 0))
  const ranges: MappedRange[] = []
  let duplicates = 0
  let last: ImageSegment | undefined
  for (const seg of sorted) {
    if (seg.start + seg.memBytes > ADDRESS_LIMIT) {
      throw malformed(source, `${seg.label} at 0x${seg.start.toString(16)} with 0x${seg.memBytes.toString(16)} bytes runs past the 64-bit address space`)
    }
    if (last !== undefined && seg.start < last.start + last.memBytes) {
      if (allowContained && seg.start + seg.memBytes <= last.start + last.memBytes) { duplicates++; continue }
      throw malformed(source, `${seg.label} (0x${seg.start.toString(16)}+0x${seg.memBytes.toString(16)}) overlaps ${last.label} (0x${last.start.toString(16)}+0x${last.memBytes.toString(16)})`)
    }
    last = seg
    if (seg.fileBytes > 0n) ranges.push({ start: seg.start, length: seg.fileBytes, backing: BigInt(seg.fileOffset) })
    if (seg.memBytes > seg.fileBytes) {
      ranges.push({ start: seg.start + seg.fileBytes, length: seg.memBytes - seg.fileBytes, backing: ZERO_FILL_BACKING })
    }
  }
  return { ranges, duplicates }
}

/** A raw image: file offset = address. */
export function rawLayout(source: ImageSource): ImageLayout {
  if (source.sizeBytes === 0) throw malformed(source, 'the file is empty')
  return {
    format: 'raw',
    ranges: [{ start: 0n, length: BigInt(source.sizeBytes), backing: 0n }],
    notes: [],
    addressing: 'physical',
    duplicateSegments: 0,
  }
}
